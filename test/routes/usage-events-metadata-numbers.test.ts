import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

// `metadata` is free-form JSON, but a number beyond a double's range (1e400, -1e999) parses to ±Infinity,
// which JSON text and jsonb cannot hold: it was stored as null — another value than the client sent,
// hashed as null too, so a later {"x": null} under the same id was a "duplicate". That event is rejected
// (naming metadata), the others stand.

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key, tenantId } = await tenantWithKey(app, ['ingest'])
  const post = async (body: string) => {
    const res = await app.inject({ method: 'POST', url: '/v1/usage/events', headers: { ...bearer(key), 'content-type': 'application/json' }, payload: body })
    t.equal(res.statusCode, 200, res.body)
    return (res.json() as { results: { id: string; status: string; errors?: { path: string }[] }[] }).results
  }
  const event = (id: string, metadata: string) =>
    `{"id":"${id}","timestamp":"2026-03-01T10:15:00Z","model":"gpt-4o-mini","input_tokens":1,"metadata":${metadata}}`

  t.test('rejects a metadata number out of range instead of storing null', async (t) => {
    const out = await post(`{"events":[${event('inf', '{"x":1e400}')},${event('deep-inf', '{"a":[{"b":-1e999}]}')},${event('fine', '{"x":1e300}')}]}`)
    t.same(out.map((r) => r.status), ['rejected', 'rejected', 'created'])
    t.same(out.map((r) => r.errors?.map((e) => e.path)), [['metadata'], ['metadata'], undefined])
    const stored = await app.testDb.query<{ id: string }>('select id from usage_events where tenant_id = $1 order by id', [tenantId])
    t.same(stored.map((r) => r.id), ['fine'], 'nothing is stored for the rejected events')
    t.same((await post(`{"events":[${event('inf', '{"x":null}')}]}`)).map((r) => r.status), ['created'], 'the id is free for the value meant')
  })
})
