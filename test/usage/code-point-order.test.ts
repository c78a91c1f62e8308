import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import type { DbClient } from '../../src/db/client.js'
import { gql } from '../factories/resources.js'
import { bearer, build, eachEngine, onEnUsDatabase, tenantWithKey } from '../helpers.js'
import { byCodePoint } from '../factories/code-point-order.js'

/**
 * The groups of `usage` (GraphQL, and the REST mirrors built on it), the resources listed in its
 * `unpricedQuantity`, and the billed costs mirror's results are ordered by their text in code-point order,
 * on every engine and whatever the database's collation — as the lists of tenants, cards and budgets are
 * (test/routes/list-order.test.ts). They were ordered by the database's default collation: C on PGlite,
 * often en_US on PostgreSQL, where `a` sorts before `B`, `a_b` before `a0` and `é` before `f` — so a
 * cursor's page order, and which rows a page held, depended on the installation.
 */

const FROM = '2025-10-01T00:00:00Z'
const TO = '2025-10-02T00:00:00Z'
const START = Date.parse(FROM) / 1000
// Dimension, attribute and line item values that en-US orders otherwise: case, punctuation, an accent.
const VALUES = ['B', 'a', 'a-b', 'aB', 'a_b', 'ab', 'a0', 'e', 'é', 'f']
// Resource names (`[a-z0-9_]`) that en-US orders otherwise: `_` before digits there, after them here.
const RESOURCES = ['b', 'a_b', 'ab', 'a0']

const enUs = new Intl.Collator('en-US').compare
for (const [what, values] of [['values', VALUES], ['resources', RESOURCES]] as const)
  t.notSame([...values].sort(enUs), byCodePoint(values), `the ${what} are ordered otherwise by en-US`)

interface Row { projectId: string | null; attributes: { key: string; value: string | null }[] | null; cost: { unpricedQuantity: { resource: string }[] } }
interface Page { rows: Row[]; totals: { cost: { unpricedQuantity: { resource: string }[] } }; pageInfo: { hasNextPage: boolean; endCursor: string | null } }

const USAGE = `query($groupBy: [UsageDimension!], $attrs: [String!], $first: Int, $after: String) {
  usage(from: "${FROM}", to: "${TO}", window: DAY, groupBy: $groupBy, groupByAttributes: $attrs, first: $first, after: $after) {
    rows { projectId attributes { key value } cost { unpricedQuantity { resource } } }
    totals { cost { unpricedQuantity { resource } } }
    pageInfo { hasNextPage endCursor }
  }
}`

async function ordersByCodePoint(t: Test, app: FastifyInstance & { testDb: DbClient }): Promise<void> {
  const { key } = await tenantWithKey(app, ['ingest', 'read'])
  // One unpriced resource row per value (as its project and its `size`), and one of each resource name.
  const row = (project: string | null, resource: string, attributes: Record<string, string> = {}) => ({
    start_time: START, end_time: START + 3600, provider: 'openai', account_id: 'org-1', project_id: project,
    user_id: null, api_key_id: null, model: 'm', resource, quantity: '1', attributes, num_model_requests: null, reported_cost: null,
  })
  const resources = [...VALUES.map((v) => row(v, 'widgets', { size: v })), ...RESOURCES.map((r) => row(null, r))]
  const posted = await app.inject({ method: 'POST', url: '/v1/usage/buckets', headers: bearer(key), payload: { resources } })
  t.equal(posted.statusCode, 200, posted.body)

  // GraphQL groups by a dimension: one page, then pages of three through the cursor.
  const all = (await gql<{ usage: Page }>(app, key, USAGE, { groupBy: ['PROJECT'] })).usage
  const expected = [...byCodePoint(VALUES), null]
  t.same(all.rows.map((r) => r.projectId), expected, 'usage grouped by PROJECT: by project in code-point order, null last')
  const paged: (string | null)[] = []
  let after: string | null = null
  for (let i = 0; i < 10; i++) {
    const page: Page = (await gql<{ usage: Page }>(app, key, USAGE, { groupBy: ['PROJECT'], first: 3, after })).usage
    paged.push(...page.rows.map((r) => r.projectId))
    if (!page.pageInfo.hasNextPage) break
    after = page.pageInfo.endCursor
  }
  t.same(paged, expected, 'usage grouped by PROJECT, three rows a page: the same rows in the same order')

  // By an attribute's values.
  const byAttr = (await gql<{ usage: Page }>(app, key, USAGE, { attrs: ['size'] })).usage
  t.same(byAttr.rows.map((r) => r.attributes?.[0]?.value ?? null), expected, 'usage grouped by an attribute: by its value in code-point order')

  // The unpriced resources of a row and of the totals.
  const whole = (await gql<{ usage: Page }>(app, key, USAGE, {})).usage
  const names = byCodePoint([...RESOURCES, 'widgets'])
  t.same(whole.rows[0]?.cost.unpricedQuantity.map((q) => q.resource), names, "a row's unpricedQuantity: by resource in code-point order")
  t.same(whole.totals.cost.unpricedQuantity.map((q) => q.resource), names, "the totals' unpricedQuantity: by resource in code-point order")

  // An event's unpriced resources and labels (sorted by key), and the events' totals.
  const event = { id: 'ev-1', timestamp: '2025-10-01T00:30:00Z', model: 'm', labels: Object.fromEntries(VALUES.map((v) => [v, v])),
    resources: RESOURCES.map((resource) => ({ resource, quantity: '1' })) }
  const sent = await app.inject({ method: 'POST', url: '/v1/usage/events', headers: bearer(key), payload: { events: [event] } })
  t.equal(sent.statusCode, 200, sent.body)
  const events = (await gql<{ events: { rows: { labels: { key: string }[]; cost: { unpricedQuantity: { resource: string }[] } }[]; totals: Page['totals'] } }>(
    app, key, `{ events(from: "${FROM}", to: "${TO}") { rows { labels { key } cost { unpricedQuantity { resource } } } totals { cost { unpricedQuantity { resource } } } } }`,
  )).events
  t.same(events.rows[0]?.labels.map((l) => l.key), byCodePoint(VALUES), "an event's labels: by key in code-point order")
  t.same(events.rows[0]?.cost.unpricedQuantity.map((q) => q.resource), byCodePoint(RESOURCES), "an event's unpricedQuantity: by resource in code-point order")
  t.same(events.totals.cost.unpricedQuantity.map((q) => q.resource), byCodePoint(RESOURCES), "the events' totals' unpricedQuantity: by resource in code-point order")

  // The costs mirror, computed and billed, grouped by project.
  const get = (query: string) => app.inject({ method: 'GET', url: `/v1/organization/costs?start_time=${START}&end_time=${START + 86_400}&${query}`, headers: bearer(key) })
  const computed = await get('group_by=project_id')
  t.equal(computed.statusCode, 200, computed.body)
  t.same(
    (computed.json() as { data: { results: { project_id: string | null }[] }[] }).data[0]?.results.map((r) => r.project_id),
    expected,
    'computed costs by project: in code-point order',
  )
  const billed = await app.inject({
    method: 'POST',
    url: '/v1/billing/costs?account_id=org-1',
    headers: bearer(key),
    payload: { data: [{ start_time: START, end_time: START + 86_400, results: VALUES.map((v) => ({ amount: { value: '1', currency: 'usd' }, line_item: v, project_id: v })) }] },
  })
  t.equal(billed.statusCode, 200, billed.body)
  for (const by of ['project_id', 'line_item']) {
    const res = await get(`group_by=${by}&cost_source=billed`)
    t.equal(res.statusCode, 200, res.body)
    t.same(
      (res.json() as { data: { results: Record<string, string | null>[] }[] }).data[0]?.results.map((r) => r[by]),
      byCodePoint(VALUES),
      `billed costs by ${by}: in code-point order`,
    )
  }
}

void eachEngine(t, async (t, engine) => {
  await ordersByCodePoint(t, await build(t, engine))
  if (engine === 'postgres') await onEnUsDatabase(t, [...VALUES, ...RESOURCES], {}, ordersByCodePoint)
})
