import t from 'tap'
import type { EventResult } from '../../src/ingest/events/event-schema.js'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

type Ev = Record<string, unknown>

const MODELS = ['gpt-4o', 'gpt-4o-mini', 'o4-mini']

/** A deterministic mix over three hours, three models, two sessions, labels on some and costs on some. */
function batch(prefix: string, n: number): Ev[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `${prefix}-${i}`,
    timestamp: Date.UTC(2026, 2, 1, 9 + (i % 3), (i * 7) % 60) / 1000,
    model: MODELS[i % MODELS.length],
    session_id: `s-${i % 2}`,
    ...(i % 4 === 0 ? { labels: { team: i % 8 === 0 ? 'a' : 'b' } } : {}),
    ...(i % 5 === 0 ? { reported_cost: `0.00${i}1` } : {}),
    input_tokens: 100 + i,
    input_cached_tokens: i % 50,
    output_tokens: 10 + (i % 13),
  }))
}

/** Expected rollup rows, computed with plain loops from the events as sent. */
function expectedRollups(events: Ev[]) {
  const groups = new Map<string, { requests: number; input: number; cached: number; output: number; cost: number | null }>()
  for (const e of events) {
    const hour = new Date(Math.floor((e.timestamp as number) / 3600) * 3600 * 1000).toISOString()
    const key = [hour, e.model, e.session_id, JSON.stringify(e.labels ?? {})].join('|')
    const g = groups.get(key) ?? { requests: 0, input: 0, cached: 0, output: 0, cost: null }
    g.requests += 1
    g.input += e.input_tokens as number
    g.cached += e.input_cached_tokens as number
    g.output += e.output_tokens as number
    // Costs here are short decimals; summing in thousandths of a millionth keeps the check exact.
    if (e.reported_cost !== undefined) g.cost = (g.cost ?? 0) + Math.round(Number(e.reported_cost) * 1e9)
    groups.set(key, g)
  }
  return Object.fromEntries(groups)
}

interface RollupRow {
  hour: Date
  model: string
  session_id: string
  labels: Record<string, string>
  num_model_requests: number
  input_tokens: number
  cached_text: number
  output_tokens: number
  reported_cost: string | null
}

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)

  const setup = async () => {
    const { key, tenantId } = await tenantWithKey(app, ['ingest'])
    const post = async (events: unknown[]): Promise<EventResult[]> => {
      const res = await app.inject({ method: 'POST', url: '/v1/usage/events', headers: bearer(key), payload: { events } })
      if (res.statusCode !== 200) throw new Error(`${res.statusCode} ${res.body}`)
      return (res.json() as { results: EventResult[] }).results
    }
    const rollups = async () => {
      const rows = await app.testDb.query<RollupRow>(
        `select hour, model, session_id, labels, num_model_requests, input_tokens, cached_text, output_tokens, reported_cost
         from usage_event_rollups where tenant_id = $1`,
        [tenantId],
      )
      return Object.fromEntries(
        rows.map((r) => [
          [r.hour.toISOString(), r.model, r.session_id, JSON.stringify(r.labels)].join('|'),
          {
            requests: r.num_model_requests,
            input: r.input_tokens,
            cached: r.cached_text,
            output: r.output_tokens,
            cost: r.reported_cost === null ? null : Math.round(Number(r.reported_cost) * 1e9),
          },
        ]),
      )
    }
    return { tenantId, post, rollups }
  }

  t.test('a re-sent event is a duplicate and changes nothing; different content under its id is rejected', async (t) => {
    const { post, rollups, tenantId } = await setup()
    const events = batch('dup', 6)
    t.same((await post(events)).map((r) => r.status), Array(6).fill('created'))
    t.same(await rollups(), expectedRollups(events))
    // Same content written differently (RFC 3339 instead of unix seconds, keys reordered) is the same event.
    const same = { ...events[0], timestamp: new Date((events[0]!.timestamp as number) * 1000).toISOString() }
    const changed = { ...events[1], output_tokens: 999 }
    const out = await post([same, changed, batch('dup-new', 1)[0]])
    t.same(out.map((r) => r.status), ['duplicate', 'rejected', 'created'])
    t.same(out[1]!.errors!.map((e) => e.path), ['id'])
    const stored = await app.testDb.query<{ output_tokens: number }>(
      'select output_tokens from usage_events where tenant_id = $1 and id = $2',
      [tenantId, 'dup-1'],
    )
    t.same(stored, [{ output_tokens: events[1]!.output_tokens }])
    t.same(await rollups(), expectedRollups([...events, batch('dup-new', 1)[0]!]))
  })

  t.test('a repeated id within one batch is compared with its first occurrence', async (t) => {
    const { post, rollups } = await setup()
    const [a, b] = batch('rep', 2)
    const out = await post([a, b, { ...a }, { ...b, input_tokens: 1 }, { id: 'rep-x', model: 'm' }, { ...a, id: 'rep-x' }])
    t.same(out.map((r) => r.status), ['created', 'created', 'duplicate', 'rejected', 'rejected', 'rejected'])
    t.match(out[5]!.errors, [{ path: 'id', message: /item 4, which was rejected/ }])
    t.same(await rollups(), expectedRollups([a!, b!]))
  })

  t.test('a repeat shares the rejection of its first occurrence when that conflicts with stored content', async (t) => {
    const { post } = await setup()
    const [a] = batch('share', 1)
    await post([a])
    const changed = { ...a, output_tokens: 1 }
    t.same((await post([changed, { ...changed }])).map((r) => r.status), ['rejected', 'rejected'])
  })

  t.test('20 parallel retries of one batch count every event exactly once', async (t) => {
    const { post, rollups, tenantId } = await setup()
    const events = batch('par', 60)
    // Half the retries send the batch reversed: lock order must not depend on input order (no deadlock).
    const all = await Promise.all(Array.from({ length: 20 }, (_, i) => post(i % 2 ? [...events].reverse() : events)))
    const statusesOf = new Map<string, string[]>()
    for (const r of all.flat()) statusesOf.set(r.id!, [...(statusesOf.get(r.id!) ?? []), r.status])
    t.equal(statusesOf.size, events.length)
    for (const [id, statuses] of statusesOf) {
      t.equal(statuses.filter((s) => s === 'created').length, 1, `${id} created once`)
      t.equal(statuses.filter((s) => s === 'duplicate').length, 19, `${id} duplicate 19 times`)
    }
    const n = await app.testDb.query<{ n: number }>('select count(*)::int8 as n from usage_events where tenant_id = $1', [tenantId])
    t.equal(n[0]!.n, events.length)
    t.same(await rollups(), expectedRollups(events))
  })

  t.test('parallel batches of different events that share rollup rows add up exactly', async (t) => {
    const { post, rollups } = await setup()
    // Same dimensions in every batch (so every batch upserts the same rollup rows), reversed in half.
    const batches = Array.from({ length: 8 }, (_, b) => batch(`mix${b}`, 30))
    const out = await Promise.all(batches.map((events, b) => post(b % 2 ? [...events].reverse() : events)))
    t.ok(out.flat().every((r) => r.status === 'created'))
    t.same(await rollups(), expectedRollups(batches.flat()))
  })

  t.test('rollup sums equal the sums of the raw events', async (t) => {
    const { post, tenantId } = await setup()
    await post(batch('sum-a', 40))
    await post(batch('sum-b', 25))
    const cols = ['num_model_requests', 'input_tokens', 'output_tokens', 'in_text', 'cached_text', 'out_text']
    const sums = (table: string) =>
      app.testDb.query<Record<string, number | string | null>>(
        `select ${cols.map((c) => `sum(${c})::int8 as ${c}`).join(', ')}, sum(reported_cost)::text as cost
         from ${table} where tenant_id = $1`,
        [tenantId],
      )
    const [raw] = await sums('usage_events')
    const [rolled] = await sums('usage_event_rollups')
    t.same(rolled, raw)
    // And both equal what was sent.
    const sent = [...batch('sum-a', 40), ...batch('sum-b', 25)]
    t.equal(raw!.input_tokens, sent.reduce((s, e) => s + (e.input_tokens as number), 0))
    t.equal(raw!.num_model_requests, sent.length)
  })
})
