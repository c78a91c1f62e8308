import t from 'tap'
import { MAX_EVENT_PROBLEMS } from '../../src/ingest/events/normalize-event.js'
import { bearer, build, eachEngine, isProblem, tenantWithKey } from '../helpers.js'

// The JSON parser refuses a key `__proto__` (or `constructor` holding `prototype`) anywhere in a body,
// against prototype pollution. On POST /v1/usage/events that made one event's free-form metadata refuse
// the whole request — 400 "Body is not valid JSON" for valid JSON — although each event stands alone and a
// NUL or a bad number in one event rejects that event only. Such a key now rejects the event holding it,
// naming its path; the others are stored. Outside the events the body is refused, naming the key; other
// routes refuse such keys as before; no prototype is ever changed.

const event = (id: string, metadata: string) =>
  `{"id":"${id}","timestamp":"2026-03-01T10:15:00Z","model":"gpt-4o-mini","input_tokens":1,"metadata":${metadata}}`

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key, tenantId } = await tenantWithKey(app, ['ingest'])
  const send = (url: string, body: string) =>
    app.inject({ method: 'POST', url, headers: { ...bearer(key), 'content-type': 'application/json' }, payload: body })
  const stored = async () =>
    (await app.testDb.query<{ id: string }>('select id from usage_events where tenant_id = $1 order by id', [tenantId])).map((r) => r.id)

  t.test('a __proto__ or constructor.prototype key rejects its event alone, naming its path', async (t) => {
    const res = await send('/v1/usage/events', `{"events":[
      ${event('proto', '{"__proto__":{"polluted":true}}')},
      ${event('deep', '{"a":[{"b":{"__proto__":{"polluted":true}}}]}')},
      ${event('ctor', '{"constructor":{"prototype":{"polluted":true}}}')},
      {"id":"label","timestamp":"2026-03-01T10:15:00Z","model":"gpt-4o-mini","input_tokens":1,"labels":{"__proto__":"x"}},
      {"id":"member","timestamp":"2026-03-01T10:15:00Z","model":"gpt-4o-mini","input_tokens":1,"__proto__":{"polluted":true}},
      ${event('plain-constructor', '{"constructor":"a name like any other","prototype":1}')},
      ${event('fine', '{"x":1}')}]}`)
    t.equal(res.statusCode, 200, res.body)
    const results = (res.json() as { results: { id: string; status: string; errors?: { path: string; message: string }[] }[] }).results
    t.same(results.map((r) => [r.id, r.status, r.errors?.map((e) => e.path)]), [
      ['proto', 'rejected', ['metadata.__proto__']],
      ['deep', 'rejected', ['metadata.a.0.b.__proto__']],
      ['ctor', 'rejected', ['metadata.constructor.prototype']],
      ['label', 'rejected', ['labels.__proto__']],
      ['member', 'rejected', ['__proto__']],
      ['plain-constructor', 'created', undefined],
      ['fine', 'created', undefined],
    ])
    t.match(results[0]!.errors![0]!.message, /__proto__/)
    t.same(await stored(), ['fine', 'plain-constructor'], 'only the other events are stored')
    t.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype changed')

    const again = await send('/v1/usage/events', `{"events":[${event('proto', '{"x":"__proto__"}')}]}`)
    t.same(again.json(), { results: [{ id: 'proto', status: 'created' }] }, 'the id is free for the event meant')
  })

  t.test('such a key beside nesting too deep names both, and the event is rejected alone', async (t) => {
    // Naming a key inside metadata used to spare metadata its depth check (a field with a problem named
    // inside it is not scanned again), and the non-finite-number check then recursed 100,000 levels: a 500.
    const nested = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`
    const res = await send('/v1/usage/events', `{"events":[
      ${event('deep-proto', `{"__proto__":{"polluted":true},"a":${nested(100_000)}}`)},
      ${event('deep-ctor', `{"a":{"constructor":{"prototype":1}},"b":${nested(100_000)}}`)},
      {"id":"deep-invalid","timestamp":"2026-03-01T10:15:00Z","input_tokens":1,"metadata":{"__proto__":1,"a":${nested(100)}}},
      ${event('after-deep', '{"x":1}')}]}`)
    t.equal(res.statusCode, 200, res.body)
    const results = (res.json() as { results: { id: string; status: string; errors?: { path: string; message: string }[] }[] }).results
    t.same(results.map((r) => [r.id, r.status, r.errors?.map((e) => e.path)]), [
      ['deep-proto', 'rejected', ['metadata.__proto__', 'metadata']],
      ['deep-ctor', 'rejected', ['metadata.a.constructor.prototype', 'metadata']],
      ['deep-invalid', 'rejected', ['metadata.__proto__', 'model', 'metadata']],
      ['after-deep', 'created', undefined],
    ])
    t.match(results[0]!.errors![1]!.message, /deeper than 64/)
    t.ok((await stored()).includes('after-deep'), 'the other event is stored')
    t.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype changed')
  })

  t.test('outside the events such a key refuses the body, naming it', async (t) => {
    for (const [envelope, path] of [
      [`{"__proto__":{"polluted":true},"events":[${event('env-1', '{}')}]}`, 'body.__proto__'],
      [`{"events":[${event('env-2', '{}')}],"extra":{"constructor":{"prototype":{}}}}`, 'body.extra.constructor.prototype'],
    ] as const) {
      const res = await send('/v1/usage/events', envelope)
      t.equal(res.statusCode, 400, res.body)
      t.ok(isProblem(res))
      t.match(res.json(), { errors: [{ path }] })
    }
    t.notOk((await stored()).some((id) => id.startsWith('env-')), 'nothing was written')
  })

  t.test(`an event lists at most ${MAX_EVENT_PROBLEMS} such keys, and so does the body outside the events`, async (t) => {
    // Every such key was listed before the list was cut to MAX_EVENT_PROBLEMS: one event of ~1.5 million
    // (`[{"__proto__":0},…]`, 24 MB) spent seconds building the problems, and outside the events the body
    // was walked to its end alike. The walk now stops at the one past the cap, and the answer says so.
    const many = `[${Array.from({ length: 200_000 }, () => '{"__proto__":0}').join(',')}]`
    const res = await send('/v1/usage/events', `{"events":[${event('many', `{"a":${many}}`)},${event('beside-many', '{"x":1}')}]}`)
    t.equal(res.statusCode, 200, res.body.slice(0, 500))
    const results = (res.json() as { results: { id: string; status: string; errors?: { path: string; message: string }[] }[] }).results
    t.same(results.map((r) => [r.id, r.status]), [['many', 'rejected'], ['beside-many', 'created']])
    const errors = results[0]!.errors!
    t.equal(errors.length, MAX_EVENT_PROBLEMS + 1, `the first ${MAX_EVENT_PROBLEMS} keys and one item for the rest`)
    t.same(errors.slice(0, MAX_EVENT_PROBLEMS).map((e) => e.path), Array.from({ length: MAX_EVENT_PROBLEMS }, (_, i) => `metadata.a.${i}.__proto__`))
    t.equal(errors.at(-1)!.path, '(event)')
    t.match(errors.at(-1)!.message, new RegExp(`not listed: an event lists at most ${MAX_EVENT_PROBLEMS}\\b`), 'the rest are said to be past the cap')
    const ids = await stored()
    t.ok(ids.includes('beside-many') && !ids.includes('many'), 'the event is rejected, the other stored')

    const body = await send('/v1/usage/events', `{"events":[${event('env-many', '{}')}],"extra":${many}}`)
    t.equal(body.statusCode, 400, body.body.slice(0, 500))
    t.ok(isProblem(body))
    const problem = body.json() as { errors: { path: string; message: string }[]; error_count: number }
    t.equal(problem.errors.length, MAX_EVENT_PROBLEMS + 1)
    t.equal(problem.error_count, MAX_EVENT_PROBLEMS + 1)
    t.same(problem.errors.slice(0, 2).map((e) => e.path), ['body.extra.0.__proto__', 'body.extra.1.__proto__'])
    t.match(problem.errors.at(-1), { path: 'body', message: new RegExp(`not listed: at most ${MAX_EVENT_PROBLEMS} are listed`) })
    t.notOk((await stored()).includes('env-many'), 'nothing was written')
  })

  t.test('other routes still refuse such keys in their bodies', async (t) => {
    const res = await send('/v1/usage/buckets', '{"buckets":[{"start_time":"2026-03-01T00:00:00Z","end_time":"2026-03-02T00:00:00Z","model":"m","__proto__":{"polluted":true}}]}')
    t.equal(res.statusCode, 400, res.body)
    t.ok(isProblem(res))
  })
})
