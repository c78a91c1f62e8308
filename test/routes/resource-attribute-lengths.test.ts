import t from 'tap'
import { bearer, build, eachEngine, isProblem, tenantWithKey } from '../helpers.js'

// Contract v2: attribute keys and values are at most 256 characters, like dimensions and labels, and
// every combination of maxima stores. Characters are code points (src/ingest/values.ts: "256 emoji are
// 256 characters"), but resource attributes were measured in UTF-16 units: a 200-emoji value was
// refused as longer than 256 characters, in canonical resources (400) and in events' resources
// (rejected), while a label of the same text was stored.

const T0 = 1772323200
const FOUR_BYTES = '\u{1F600}' // 😀: 4 bytes in UTF-8, 2 UTF-16 units, 1 character
const max = (tag: string) => tag + FOUR_BYTES.repeat(256 - tag.length)

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key, tenantId } = await tenantWithKey(app, ['ingest'])
  const post = (url: string, payload: unknown) => app.inject({ method: 'POST', url, headers: { ...bearer(key), 'content-type': 'application/json' }, payload: JSON.stringify(payload) })
  const resource = (attributes: Record<string, string>) => ({ start_time: T0, end_time: T0 + 3600, resource: 'images', quantity: 1, attributes })

  t.test('a canonical resource with attribute keys and values of 256 four-byte characters stores them as sent', async (t) => {
    const attributes = { [max('k')]: max('v'), [max('s')]: FOUR_BYTES.repeat(200) }
    const res = await post('/v1/usage/buckets', { resources: [resource(attributes)] })
    t.equal(res.statusCode, 200, res.body)
    const rows = await app.testDb.query<{ attributes: Record<string, string> }>('select attributes from usage_resources where tenant_id = $1', [tenantId])
    t.same(rows.map((r) => r.attributes), [attributes])
  })

  t.test('an event resource with attributes of 256 four-byte characters is created', async (t) => {
    const res = await post('/v1/usage/events', {
      events: [{ id: 'attr-max', timestamp: '2026-03-01T10:00:00Z', model: 'dall-e-2', resources: [{ resource: 'images', quantity: 1, attributes: { [max('k')]: max('v') } }] }],
    })
    t.equal(res.statusCode, 200, res.body)
    t.match(res.json(), { results: [{ id: 'attr-max', status: 'created' }] })
  })

  t.test('257 characters is still too long: a 400 naming the row, nothing written', async (t) => {
    const before = (await app.testDb.query<{ n: number }>('select count(*)::int8 as n from usage_resources where tenant_id = $1', [tenantId]))[0]!.n
    for (const attributes of [{ size: FOUR_BYTES.repeat(257) }, { [FOUR_BYTES.repeat(257)]: 'x' }, { size: 'x'.repeat(257) }]) {
      const res = await post('/v1/usage/buckets', { resources: [resource({ size: '1' }), resource(attributes)] })
      t.equal(res.statusCode, 400, res.body)
      t.ok(isProblem(res))
      t.match(res.json(), { errors: [{ index: 1, path: 'resources.attributes', message: /1–256 characters/ }] })
    }
    const after = (await app.testDb.query<{ n: number }>('select count(*)::int8 as n from usage_resources where tenant_id = $1', [tenantId]))[0]!.n
    t.equal(after, before, 'nothing written')
    const ev = await post('/v1/usage/events', {
      events: [{ id: 'attr-long', timestamp: '2026-03-01T10:00:00Z', model: 'dall-e-2', resources: [{ resource: 'images', quantity: 1, attributes: { size: FOUR_BYTES.repeat(257) } }] }],
    })
    t.match(ev.json(), { results: [{ id: 'attr-long', status: 'rejected', errors: [{ path: 'resources.0.attributes' }] }] })
  })
})
