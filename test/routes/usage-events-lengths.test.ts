import t from 'tap'
import { MAX_EVENT_LABELS, type EventResult } from '../../src/ingest/events/event-schema.js'
import { MAX_LISTED_ERRORS } from '../../src/errors.js'
import { MAX_EVENT_PROBLEMS } from '../../src/ingest/events/normalize-event.js'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

// Contract v2: dimensions, ids and label keys/values are at most 256 characters, any combination of
// maxima stores, and a longer one rejects that event only. The rollup's unique key over 15 text
// columns and the labels used to exceed PostgreSQL's index row size with long values: the whole batch
// failed with a 500 and the valid events were lost.
const FOUR_BYTES = '\u{1F600}' // 😀: 4 bytes in UTF-8, 2 UTF-16 units, 1 character
const max = (tag: string) => tag + FOUR_BYTES.repeat(256 - tag.length)
// A provider is an id of at most 63 ASCII characters (docs/consistency.md), not free text: the longest is used.
const LONGEST_PROVIDER = 'p'.repeat(63)
const TEXT_FIELDS = ['account_id', 'project_id', 'user_id', 'api_key_id', 'model', 'service_tier', 'endpoint', 'request_type', 'session_id', 'employee_id', 'agent_id'] as const

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key, tenantId } = await tenantWithKey(app, ['ingest'])
  const results = async (events: unknown[]): Promise<EventResult[]> => {
    const res = await app.inject({ method: 'POST', url: '/v1/usage/events', headers: bearer(key), payload: { events } })
    if (res.statusCode !== 200) throw new Error(`${res.statusCode} ${res.body.slice(0, 500)}`)
    return (res.json() as { results: EventResult[] }).results
  }
  const count = async (table: string) =>
    (await app.testDb.query<{ n: number }>(`select count(*)::int8 as n from ${table} where tenant_id = $1`, [tenantId]))[0]!.n

  t.test('every field at 256 four-byte characters at once stores, and rolls up by its full dimensions', async (t) => {
    const labels = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [max(`k${i}`), max(`v${i}`)]))
    const event = (id: string, over: Record<string, unknown> = {}) => ({
      id,
      timestamp: '2026-03-01T10:15:00Z',
      ...Object.fromEntries(TEXT_FIELDS.map((f) => [f, max(f.slice(0, 3))])),
      provider: LONGEST_PROVIDER,
      batch: true,
      labels,
      input_tokens: 100,
      output_tokens: 20,
      ...over,
    })
    const first = event(max('a'))
    t.same((await results([first])).map((r) => r.status), ['created'])
    t.same((await results([first])).map((r) => r.status), ['duplicate'], 'the same id and content again is a duplicate')
    const stored = await app.testDb.query<Record<string, unknown>>('select * from usage_events where tenant_id = $1 and id = $2', [tenantId, first.id])
    t.equal(stored.length, 1)
    for (const f of TEXT_FIELDS) t.equal(stored[0]![f], (first as Record<string, unknown>)[f], `${f} stored as sent`)
    t.equal(stored[0]!.provider, LONGEST_PROVIDER, 'provider stored as sent')
    t.same(stored[0]!.labels, labels)

    // Same dimensions → the same rollup row; one label value differing in its last character → another.
    const otherLabel = { ...labels, [max('k0')]: max('v0').slice(0, -2) + 'x' }
    t.same((await results([event(max('b')), event(max('c'), { labels: otherLabel })])).map((r) => r.status), ['created', 'created'])
    const rollups = await app.testDb.query<{ n: number; input: number }>(
      'select num_model_requests::int8 as n, input_tokens::int8 as input from usage_event_rollups where tenant_id = $1 order by num_model_requests',
      [tenantId],
    )
    t.same(rollups, [{ n: 1, input: 100 }, { n: 2, input: 200 }])
  })

  t.test('an over-long field rejects only its event, naming the field', async (t) => {
    const before = await count('usage_events')
    const base = { timestamp: '2026-03-02T10:15:00Z', model: 'gpt-4o-mini', input_tokens: 1 }
    const out = await results([
      { id: 'len-ok-1', ...base },
      { id: 'len-endpoint', ...base, endpoint: 'e'.repeat(257) },
      { id: 'len-ok-2', ...base, session_id: FOUR_BYTES.repeat(256) },
      { id: 'len-label-value', ...base, labels: { team: FOUR_BYTES.repeat(257) } },
      { id: 'len-label-key', ...base, labels: { ['k'.repeat(257)]: 'v' } },
      { id: 'len-provider', ...base, provider: 'p'.repeat(10_000) },
      { id: 'len-model', ...base, model: FOUR_BYTES.repeat(257) },
      { id: 'i'.repeat(257), ...base },
      { id: 'len-nul', ...base, agent_id: 'a\u0000b' },
    ])
    t.same(
      out.map((r) => [r.status, r.errors?.map((e) => e.path).join(',')]),
      [
        ['created', undefined],
        ['rejected', 'endpoint'],
        ['created', undefined],
        ['rejected', 'labels.team'],
        ['rejected', 'labels'],
        ['rejected', 'provider'],
        ['rejected', 'model'],
        ['rejected', 'id'],
        ['rejected', 'agent_id'],
      ],
    )
    t.match(out[1]!.errors![0]!.message, /at most 256 characters/)
    t.match(out[4]!.errors![0]!.message, /^key "k+"… must be at most 256 characters/)
    t.match(out[8]!.errors![0]!.message, /NUL/)
    t.equal((await count('usage_events')) - before, 2, 'the two valid events are stored')
  })

  // One event of BODY_LIMIT could carry 300,000 labels (stored with it) or name as many problems: its
  // result's errors list was 25 MB. Labels are bounded like resources, and the list like a request's.
  t.test(`labels are at most ${MAX_EVENT_LABELS}; a rejected event lists at most ${MAX_EVENT_PROBLEMS} problems and counts the rest`, async (t) => {
    const before = await count('usage_events')
    const base = { timestamp: '2026-03-04T10:15:00Z', model: 'gpt-4o-mini', input_tokens: 1 }
    const labels = (n: number, value = 'v') => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, value]))
    const unknown = Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`field_${i}`, 1]))
    const out = await results([
      { id: 'labels-max', ...base, labels: labels(MAX_EVENT_LABELS) },
      { id: 'labels-over', ...base, labels: labels(MAX_EVENT_LABELS + 1) },
      { id: 'labels-bad', ...base, labels: labels(20_000, FOUR_BYTES.repeat(257)) },
      { id: 'fields-unknown', ...base, ...unknown },
    ])
    t.same(out.map((r) => r.status), ['created', 'rejected', 'rejected', 'rejected'])
    t.same(out[1]!.errors, [{ path: 'labels', message: `at most ${MAX_EVENT_LABELS} labels` }])
    // 20,000 over-long label values and the number of labels; 20,000 unknown fields.
    for (const [r, first, problems] of [[out[2]!, 'labels.k0', 20_001], [out[3]!, 'field_0', 20_000]] as const) {
      t.equal(r.errors!.length, MAX_EVENT_PROBLEMS + 1, `${r.id}: the first ${MAX_EVENT_PROBLEMS} problems and a count`)
      t.equal(r.errors![0]!.path, first)
      t.same(r.errors!.at(-1), { path: '(event)', message: `and ${problems - MAX_EVENT_PROBLEMS} more problems, not listed` })
    }
    t.equal((await count('usage_events')) - before, 1, 'the event with the most labels allowed is stored')
  })

  // 10,000 events each naming 101 problems answered a 10 MB body with 1M problems (a 50 MB response, the
  // server's memory +340 MB). The request lists at most MAX_LISTED_ERRORS; past them, each rejected event
  // still lists its first problem and says the rest were not listed.
  t.test(`a response lists at most ${MAX_LISTED_ERRORS} problems; every rejected event past them still names one`, async (t) => {
    const before = await count('usage_events')
    const base = { timestamp: '2026-03-05T10:15:00Z', model: 'gpt-4o-mini', input_tokens: 1 }
    const unknown = Object.fromEntries(Array.from({ length: MAX_EVENT_PROBLEMS + 1 }, (_, i) => [`field_${i}`, 1]))
    const full = Math.floor(MAX_LISTED_ERRORS / (MAX_EVENT_PROBLEMS + 1))
    const events = Array.from({ length: 300 }, (_, i) => (i % 3 === 2 ? { id: `budget-ok-${i}`, ...base } : { id: `budget-bad-${i}`, ...base, ...unknown }))
    const out = await results(events)
    t.same(out.map((r) => r.status), events.map((e) => (e.id.startsWith('budget-ok') ? 'created' : 'rejected')))
    const rejected = out.filter((r) => r.status === 'rejected')
    const listed = rejected.map((r) => r.errors!.filter((e) => e.path !== '(event)').length)
    // Each of the first events lists its 100 and its own count item; every item counts against the budget.
    const rest = MAX_LISTED_ERRORS - full * (MAX_EVENT_PROBLEMS + 1)
    t.same(listed.slice(0, full), Array(full).fill(MAX_EVENT_PROBLEMS), 'the first events list their own 100')
    t.equal(listed[full], rest, 'the event that spends the rest')
    t.equal(listed.reduce((a, b) => a + b, 0), full * MAX_EVENT_PROBLEMS + rest + (rejected.length - full - 1), 'then one problem per later event')
    t.same(new Set(listed.slice(full + 1)), new Set([1]))
    const cut = { path: '(event)', message: `and more problems, not listed: a response lists at most ${MAX_LISTED_ERRORS} problems in all` }
    t.same(rejected[full + 1]!.errors, [{ path: 'field_0', message: 'is not an Event field' }, cut])
    t.same(rejected.at(-1)!.errors!.at(-1), cut)
    t.same(rejected[0]!.errors!.at(-1), { path: '(event)', message: 'and 1 more problem, not listed' }, 'within the budget an event keeps its own count')
    // An event with one problem after the budget is spent lists it alone: nothing was cut.
    const late = await results([...events.slice(0, 30), { id: 'budget-one', timestamp: 'not a time', model: 'm' }])
    t.same(late.at(-1)!.errors!.map((e) => e.path), ['timestamp'])
    t.equal((await count('usage_events')) - before, 100, 'the valid events are stored')
  })

  // 17,000 fractional digits overflow PostgreSQL's numeric: the whole batch was a 422 about token counts.
  t.test('an over-long decimal (reported_cost, a resource quantity) rejects only its event, naming the field', async (t) => {
    const before = await count('usage_events')
    const long = `0.${'0'.repeat(17_000)}1`
    const base = { timestamp: '2026-03-03T10:15:00Z', model: 'gpt-4o-mini', input_tokens: 1 }
    const out = await results([
      { id: 'dec-cost', ...base, reported_cost: long },
      { id: 'dec-quantity', ...base, resources: [{ resource: 'images', quantity: long }] },
      { id: 'dec-ok', ...base, reported_cost: `0.${'0'.repeat(97)}1` },
      { id: 'dec-raw', timestamp: base.timestamp, model: 'm', provider: 'openrouter', usage: { prompt_tokens: 1, completion_tokens: 1, cost: 1e300 } },
    ])
    t.same(out.map((r) => [r.status, r.errors?.map((e) => e.path).join(',')]), [['rejected', 'reported_cost'], ['rejected', 'resources.0.quantity'], ['created', undefined], ['rejected', 'usage.cost']])
    t.match(out[0]!.errors![0]!.message, /at most 100 characters/)
    t.equal((await count('usage_events')) - before, 1, 'the valid event is stored')
  })
})
