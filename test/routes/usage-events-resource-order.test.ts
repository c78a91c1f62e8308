import { createHash } from 'node:crypto'
import t from 'tap'
import { canonicalJson, normalizeEvent } from '../../src/ingest/events/normalize-event.js'
import type { EventResult } from '../../src/ingest/events/event-schema.js'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

// An event's `resources` are a set of usages (resource + attributes, with a quantity), not a sequence.
// An event retried with them in another order was rejected as a conflicting retry ("same id, different
// content"): its content hash serialised them in the order sent. The hash now takes them in one canonical
// order, so the reorder is a `duplicate`, counted once. Events stored before keep the hash of the order
// they were sent in: a retry in that order is still a duplicate.

const SEARCH = { resource: 'web_search_calls', quantity: '3', attributes: { context: 'high' } }
const IMAGES = { resource: 'images', quantity: '0.5', attributes: { size: '1024x1024' } }
const SECONDS = { resource: 'audio_seconds', quantity: 12, attributes: {} }
const event = (id: string, resources: unknown[]) => ({ id, timestamp: '2026-03-01T10:15:00Z', model: 'gpt-4o', input_tokens: 10, resources })

/** The content hash before resources were hashed as a set: the normalised event's sorted-keys JSON, resources in the order sent. */
function hashInOrderSent(item: unknown): string {
  const n = normalizeEvent(item)
  if (!n.ok) throw new Error(JSON.stringify(n.errors))
  return createHash('sha256').update(canonicalJson(n.event)).digest('hex')
}

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key, tenantId } = await tenantWithKey(app, ['ingest'])
  const send = async (...events: unknown[]): Promise<string[]> => {
    const res = await app.inject({ method: 'POST', url: '/v1/usage/events', headers: bearer(key), payload: { events } })
    if (res.statusCode !== 200) throw new Error(`${res.statusCode} ${res.body.slice(0, 500)}`)
    return (res.json() as { results: EventResult[] }).results.map((r) => r.status)
  }
  const stored = async (id: string) => {
    const [row] = await app.testDb.query<{ events: number; resources: number; requests: number }>(
      `select (select count(*)::int8 from usage_events where tenant_id = $1 and id = $2) as events,
         (select count(*)::int8 from usage_event_resources where tenant_id = $1 and event_id = $2) as resources,
         (select coalesce(sum(num_model_requests), 0)::int8 from usage_event_rollups where tenant_id = $1) as requests`,
      [tenantId, id],
    )
    return row!
  }

  t.test('a retry with its resources reordered is a duplicate, counted once', async (t) => {
    t.same(await send(event('r-1', [SEARCH, IMAGES, SECONDS])), ['created'])
    const before = await stored('r-1')
    t.same(before, { events: 1, resources: 3, requests: 1 })
    t.same(await send(event('r-1', [SECONDS, SEARCH, IMAGES])), ['duplicate'], 'another order')
    t.same(await send(event('r-1', [IMAGES, SECONDS, SEARCH])), ['duplicate'], 'and another')
    t.same(await send(event('r-1', [SEARCH, IMAGES, SECONDS])), ['duplicate'], 'the order first sent')
    t.same(await stored('r-1'), before, 'nothing was stored or counted again')

    // Within one request, a repeat is compared with its first occurrence alike.
    t.same(await send(event('r-2', [SEARCH, IMAGES]), event('r-2', [IMAGES, SEARCH])), ['created', 'duplicate'])
    t.same(await stored('r-2'), { events: 1, resources: 2, requests: 2 })
  })

  t.test('other resources under the same id are still rejected, in any order', async (t) => {
    const otherQuantity = { ...IMAGES, quantity: '0.75' }
    const otherAttributes = { ...SEARCH, attributes: { context: 'low' } }
    for (const resources of [[SECONDS, SEARCH, otherQuantity], [otherAttributes, IMAGES, SECONDS], [SEARCH, IMAGES], [SEARCH, IMAGES, SECONDS, SECONDS]]) {
      const res = await app.inject({ method: 'POST', url: '/v1/usage/events', headers: bearer(key), payload: { events: [event('r-1', resources)] } })
      t.match(res.json(), { results: [{ id: 'r-1', status: 'rejected', errors: [{ path: 'id', message: /different content/ }] }] })
    }
    t.same(await stored('r-1'), { events: 1, resources: 3, requests: 2 }, 'nothing stored')
  })

  t.test('an event stored under the hash of its resources in the order sent is a duplicate when retried in that order', async (t) => {
    // As an earlier version stored it: sent in an order that is not the canonical one.
    const first = event('r-old', [SECONDS, IMAGES, SEARCH])
    t.same(await send(first), ['created'])
    const old = hashInOrderSent(first)
    const [row] = await app.testDb.query<{ hash: string }>('select content_hash as hash from usage_event_ids where tenant_id = $1 and id = $2', [tenantId, 'r-old'])
    t.not(row!.hash, old, 'the order sent is not the canonical one, so the two hashes differ')
    await app.testDb.query('update usage_event_ids set content_hash = $3 where tenant_id = $1 and id = $2', [tenantId, 'r-old', old])
    t.same(await send(first), ['duplicate'], 'the retry in the order first sent')
    t.same(await send(event('r-old', [SECONDS, { ...IMAGES, quantity: '1' }, SEARCH])), ['rejected'], 'other content still conflicts')
    t.same(await stored('r-old'), { events: 1, resources: 3, requests: 3 }, 'counted once')
  })
})
