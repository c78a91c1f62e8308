import t from 'tap'
import { gql } from '../factories/resources.js'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'
import { ASTRAL_AND_HIGH_BMP, byCodePoint } from '../factories/code-point-order.js'

/**
 * GraphQL `Event.resources[].attributes` is documented as "sorted by key". It was listed in the stored
 * jsonb's key order — shorter keys first (`size` before `quality`) — then re-ordered by JavaScript, which
 * puts integer-like keys first in numeric order (`9` before `10`). Now by key in code-point order, as an
 * event's labels are (test/usage/code-point-order.test.ts) — by code point, not UTF-16 code unit, which put
 * `😀` (above U+FFFF) before `！` (U+FF01).
 */

// Keys that jsonb's order (by length), a parsed object's (integers first) and en-US's each order otherwise.
const KEYS = ['size', 'quality', '10', '9', 'B', 'a', 'a_b', 'a0', ...ASTRAL_AND_HIGH_BMP]

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key } = await tenantWithKey(app, ['ingest', 'read'])
  const attributes = Object.fromEntries(KEYS.map((k) => [k, `v-${k}`]))
  const events = [{ id: 'ev-1', timestamp: '2025-10-01T00:30:00Z', model: 'm', resources: [{ resource: 'widgets', quantity: '1', attributes }] }]
  const sent = await app.inject({ method: 'POST', url: '/v1/usage/events', headers: bearer(key), payload: { events } })
  t.equal(sent.statusCode, 200, sent.body)
  t.equal((sent.json() as { results: { status: string }[] }).results[0]?.status, 'created', sent.body)

  const { events: page } = await gql<{ events: { rows: { resources: { attributes: { key: string; value: string }[] }[] }[] } }>(
    app, key, '{ events(from: "2025-10-01T00:00:00Z", to: "2025-10-02T00:00:00Z") { rows { resources { attributes { key value } } } } }',
  )
  t.same(
    page.rows[0]?.resources[0]?.attributes,
    byCodePoint(KEYS).map((k) => ({ key: k, value: `v-${k}` })),
    "a resource's attributes: sorted by key in code-point order, each with its value",
  )
})
