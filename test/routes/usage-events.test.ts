import { readFileSync } from 'node:fs'
import t from 'tap'
import type { EventResult } from '../../src/ingest/events/event-schema.js'
import { bearer, build, eachEngine, fixturePath, isProblem, tenantWithKey } from '../helpers.js'

type Ev = Record<string, unknown>
const ev = (id: string, extra: Ev = {}): Ev => ({
  id,
  timestamp: '2026-03-01T10:15:00Z',
  model: 'gpt-4o-mini',
  input_tokens: 100,
  output_tokens: 20,
  ...extra,
})

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key, tenantId } = await tenantWithKey(app, ['ingest'])
  const post = (events: unknown, k = key) =>
    app.inject({ method: 'POST', url: '/v1/usage/events', headers: bearer(k), payload: { events } as object })
  const results = async (events: unknown[], k = key): Promise<EventResult[]> => {
    const res = await post(events, k)
    if (res.statusCode !== 200) throw new Error(`${res.statusCode} ${res.body}`)
    return (res.json() as { results: EventResult[] }).results
  }
  const stored = (id: string, tenant = tenantId) =>
    app.testDb
      .query<Record<string, unknown>>('select * from usage_events where tenant_id = $1 and id = $2', [tenant, id])
      .then((r) => r[0])

  t.test('maps every raw usage shape to the stored token classes', async (t) => {
    const path = fixturePath(t, 'openrouter/openrouter_usage_examples.json')
    if (!path) return
    const fixture = JSON.parse(readFileSync(path, 'utf8')) as { chat_completion_usage: { usage: Ev } }
    const usage = {
      chat: { prompt_tokens: 1117, completion_tokens: 46, prompt_tokens_details: { cached_tokens: 1024 }, completion_tokens_details: { reasoning_tokens: 12 } },
      responses: { input_tokens: 328, input_tokens_details: { cached_tokens: 128 }, output_tokens: 52, output_tokens_details: { reasoning_tokens: 40 } },
      anthropic: { input_tokens: 21, cache_creation_input_tokens: 300, cache_read_input_tokens: 1500, output_tokens: 393 },
    }
    const out = await results([
      { id: 'raw-chat', timestamp: 1772359200, model: 'gpt-4o', usage: usage.chat },
      { id: 'raw-resp', timestamp: 1772359200, model: 'o4-mini', usage: usage.responses },
      { id: 'raw-anth', timestamp: 1772359200, model: 'claude-sonnet-4', provider: 'anthropic', usage: usage.anthropic },
      { id: 'raw-or', timestamp: 1772359200, model: 'openai/gpt-4o', provider: 'openrouter', usage: fixture.chat_completion_usage.usage },
    ])
    t.same(out.map((r) => r.status), ['created', 'created', 'created', 'created'])
    t.match(await stored('raw-chat'), { input_tokens: 1117, cached_text: 1024, in_text: 93, output_tokens: 46, out_text: 46, reasoning_tokens: 12, reported_cost: null })
    t.match(await stored('raw-resp'), { input_tokens: 328, cached_text: 128, in_text: 200, output_tokens: 52, reasoning_tokens: 40 })
    t.match(await stored('raw-anth'), { provider: 'anthropic', input_tokens: 21 + 300 + 1500, in_text: 21, cached_text: 1500, cache_write: 300, output_tokens: 393 })
    const or = fixture.chat_completion_usage.usage as { prompt_tokens: number; cost: number; prompt_tokens_details: { cache_write_tokens: number } }
    t.match(await stored('raw-or'), { input_tokens: or.prompt_tokens, cache_write: or.prompt_tokens_details.cache_write_tokens, reported_cost: String(or.cost) })
  })

  t.test('normalises tiers, timestamps and costs before storing', async (t) => {
    const out = await results([
      ev('n-1', { service_tier: 'batch', timestamp: '2026-03-01T11:15:00+01:00', reported_cost: '0.0120' }),
      ev('n-2', { service_tier: 'auto', labels: { team: 'search' }, metadata: { trace: 'abc' }, endpoint: '/v1/chat/completions' }),
      ev('n-3', { service_tier: 'flex', batch: false }),
    ])
    t.same(out.map((r) => r.status), ['created', 'created', 'created'])
    const n1 = await stored('n-1')
    t.match(n1, { service_tier: 'default', batch: true, reported_cost: '0.012', num_model_requests: 1 })
    t.equal((n1!.timestamp as Date).toISOString(), '2026-03-01T10:15:00.000Z')
    t.match(await stored('n-2'), { service_tier: 'default', batch: null, labels: { team: 'search' }, metadata: { trace: 'abc' }, endpoint: '/v1/chat/completions' })
    t.match(await stored('n-3'), { service_tier: 'flex', batch: false })
  })

  t.test('rejects invalid items on their own, naming every problem, and stores the rest', async (t) => {
    const out = await results([
      ev('ok-1'),
      { id: 'bad-1', model: '', input_tokens: -1, colour: 'red' },
      ev('bad-2', { input_tokens: 10, input_cached_tokens: 20 }),
      ev('bad-3', { usage: { prompt_tokens: 5 }, output_tokens: 1 }),
      ev('bad-4', { reported_cost: '1e-3', timestamp: '2026-02-30T00:00:00Z', service_tier: 'batch', batch: false }),
      42,
      ev('ok-2'),
    ])
    t.same(out.map((r) => [r.id, r.status]), [
      ['ok-1', 'created'], ['bad-1', 'rejected'], ['bad-2', 'rejected'], ['bad-3', 'rejected'],
      ['bad-4', 'rejected'], [null, 'rejected'], ['ok-2', 'created'],
    ])
    t.same(out[1]!.errors!.map((e) => e.path).sort(), ['colour', 'input_tokens', 'model', 'timestamp'])
    t.same(out[2]!.errors!.map((e) => e.path), ['input_tokens'])
    t.same(out[3]!.errors!.map((e) => e.path), ['usage'])
    t.same(out[4]!.errors!.map((e) => e.path).sort(), ['batch', 'reported_cost', 'timestamp'])
    const rows = await app.testDb.query<{ id: string }>(
      "select id from usage_events where tenant_id = $1 and (id like 'ok-%' or id like 'bad-%') order by id",
      [tenantId],
    )
    t.same(rows.map((r) => r.id), ['ok-1', 'ok-2'])
    const ledger = await app.testDb.query('select id from usage_event_ids where tenant_id = $1 and id like $2', [tenantId, 'bad-%'])
    t.equal(ledger.length, 0)
  })

  t.test('checks dates and tier/batch agreement once the shape is valid', async (t) => {
    const out = await results([ev('d-1', { timestamp: '2026-02-30T00:00:00Z' }), ev('d-2', { service_tier: 'batch', batch: false })])
    t.same(out.map((r) => r.errors?.map((e) => e.path)), [['timestamp'], ['batch']])
  })

  t.test('a raw Anthropic usage whose cache_creation is not an object rejects its item', async (t) => {
    const raw = (id: string, cc: unknown) => ({ id, timestamp: 1772359200, provider: 'anthropic', model: 'claude-sonnet-4-20250514', usage: { input_tokens: 10, output_tokens: 1, cache_creation: cc } })
    const out = await results([raw('cc-array', [500, 1000]), raw('cc-number', 5), raw('cc-null', null)])
    t.same(out.map((r) => [r.status, r.errors?.map((e) => e.path).join(',')]), [['rejected', 'usage.cache_creation'], ['rejected', 'usage.cache_creation'], ['created', undefined]])
  })

  t.test('a NUL character rejects only its item instead of failing the batch in the database', async (t) => {
    const out = await results([ev('nul-\u0000'), ev('nul-ok', { metadata: { note: 'x\u0000' } }), ev('nul-fine')])
    t.same(out.map((r) => r.status), ['rejected', 'rejected', 'created'])
    t.same(out.map((r) => r.errors?.map((e) => e.path)), [['id'], ['metadata'], undefined])
  })

  t.test('rejects metadata over 8 KiB serialised and accepts it at the limit', async (t) => {
    const overhead = JSON.stringify({ blob: '' }).length
    const out = await results([
      ev('meta-big', { metadata: { blob: 'x'.repeat(8192 - overhead + 1) } }),
      ev('meta-max', { metadata: { blob: 'x'.repeat(8192 - overhead) } }),
    ])
    t.same(out.map((r) => r.status), ['rejected', 'created'])
    t.same(out[0]!.errors!.map((e) => e.path), ['metadata'])
  })

  t.test('refuses the whole request only for a bad envelope, writing nothing', async (t) => {
    const before = await app.testDb.query<{ n: number }>('select count(*)::int8 as n from usage_event_ids')
    const bad = [
      await app.inject({ method: 'POST', url: '/v1/usage/events', headers: { ...bearer(key), 'content-type': 'application/json' }, payload: '{"events": [' }),
      await app.inject({ method: 'POST', url: '/v1/usage/events', headers: bearer(key), payload: { items: [ev('x')] } }),
      await app.inject({ method: 'POST', url: '/v1/usage/events', headers: bearer(key), payload: { events: { id: 'x' } } }),
      await post(Array.from({ length: 10_001 }, (_, i) => ev(`many-${i}`))),
    ]
    t.same(bad.map((r) => r.statusCode), [400, 400, 400, 400])
    t.ok(bad.every(isProblem))
    const after = await app.testDb.query<{ n: number }>('select count(*)::int8 as n from usage_event_ids')
    t.equal(after[0]!.n, before[0]!.n)
  })

  t.test('refuses an oversize body with 413', async (t) => {
    const small = await build(t, engine, { BODY_LIMIT: '2048' })
    const k = await tenantWithKey(small, ['ingest'])
    const res = await small.inject({
      method: 'POST',
      url: '/v1/usage/events',
      headers: bearer(k.key),
      payload: { events: Array.from({ length: 40 }, (_, i) => ev(`big-${i}`)) },
    })
    t.equal(res.statusCode, 413)
    t.ok(isProblem(res))
    t.same(await small.testDb.query('select id from usage_event_ids'), [])
  })

  t.test('needs the ingest scope', async (t) => {
    const none = await app.inject({ method: 'POST', url: '/v1/usage/events', payload: { events: [] } })
    t.equal(none.statusCode, 401)
    const reader = await tenantWithKey(app, ['read'])
    const res = await post([ev('scope-1')], reader.key)
    t.equal(res.statusCode, 403)
    t.ok(isProblem(res))
  })

  t.test('keeps tenants apart: the same id in two tenants is two events', async (t) => {
    const other = await tenantWithKey(app, ['ingest'])
    t.same((await results([ev('shared-id', { input_tokens: 1 })])).map((r) => r.status), ['created'])
    t.same((await results([ev('shared-id', { input_tokens: 2 })], other.key)).map((r) => r.status), ['created'])
    t.match(await stored('shared-id'), { input_tokens: 1 })
    t.match(await stored('shared-id', other.tenantId), { input_tokens: 2 })
    const otherRollup = await app.testDb.query<{ n: number }>(
      'select sum(input_tokens)::int8 as n from usage_event_rollups where tenant_id = $1',
      [other.tenantId],
    )
    t.equal(otherRollup[0]!.n, 2)
  })
})
