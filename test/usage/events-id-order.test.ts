import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import type { DbClient } from '../../src/db/client.js'
import { gql } from '../factories/resources.js'
import { bearer, build, eachEngine, onEnUsDatabase, tenantWithKey } from '../helpers.js'
import { byCodePoint } from '../factories/code-point-order.js'

/**
 * `events` orders by timestamp (under COST_DESC after the cost), then by `id` — the client's idempotency
 * key, any text. That tie-breaker, and the keyset cursor comparing it, used the column's collation, the
 * database's default: C on PGlite, often en_US on PostgreSQL, where `a` sorts before `B`, `a_b` before `a0`
 * and `é` before `f`. Events of one instant were listed in another order per installation, and which of
 * them a page held with it. They are now by code point, on every engine and whatever the collation.
 */

const IDS = ['B', 'a', 'a-b', 'aB', 'a_b', 'ab', 'a0', 'e', 'é', 'f']
// The oracle: JavaScript compares strings by UTF-16 code unit, which is the code point for these.

t.notSame([...IDS].sort(new Intl.Collator('en-US').compare), byCodePoint(IDS), 'the ids are ordered otherwise by en-US')

interface Page { rows: { id: string }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } }
const EVENTS = `query($orderBy: EventOrder, $first: Int, $after: String) {
  events(from: "2025-10-01T00:00:00Z", to: "2025-10-02T00:00:00Z", orderBy: $orderBy, first: $first, after: $after) {
    rows { id } pageInfo { hasNextPage endCursor }
  }
}`

async function tiesByCodePoint(t: Test, app: FastifyInstance & { testDb: DbClient }): Promise<void> {
  const { key } = await tenantWithKey(app, ['ingest', 'read'])
  // One instant, one model, one cost: only the id tells them apart.
  const events = IDS.map((id) => ({ id, timestamp: '2025-10-01T12:00:00Z', model: 'gpt-4o-mini', input_tokens: 10, output_tokens: 5 }))
  const sent = await app.inject({ method: 'POST', url: '/v1/usage/events', headers: bearer(key), payload: { events } })
  t.equal(sent.statusCode, 200, sent.body)

  for (const [orderBy, expected] of [
    ['TIME_ASC', byCodePoint(IDS)],
    ['TIME_DESC', byCodePoint(IDS).reverse()],
    ['COST_DESC', byCodePoint(IDS).reverse()],
  ] as const) {
    const all = (await gql<{ events: Page }>(app, key, EVENTS, { orderBy })).events
    t.same(all.rows.map((r) => r.id), expected, `${orderBy}: one instant's events by id in code-point order`)
    const paged: string[] = []
    let after: string | null = null
    for (let i = 0; i < 10; i++) {
      const page: Page = (await gql<{ events: Page }>(app, key, EVENTS, { orderBy, first: 3, after })).events
      paged.push(...page.rows.map((r) => r.id))
      if (!page.pageInfo.hasNextPage) break
      after = page.pageInfo.endCursor
    }
    t.same(paged, expected, `${orderBy}, three events a page: the same events in the same order`)
  }
}

void eachEngine(t, async (t, engine) => {
  await tiesByCodePoint(t, await build(t, engine))
  if (engine === 'postgres') await onEnUsDatabase(t, IDS, {}, tiesByCodePoint)
})
