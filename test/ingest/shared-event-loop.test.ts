// A JSON body of BODY_LIMIT holds ~150,000 buckets; parsing, merging and shaping them took seconds of
// one turn of the event loop, and for that long no other request of the process was served. Each
// long loop now gives the event loop a turn every slice (src/ingest/turns.ts). A callback queued anew in
// every turn stands for the other requests: with the loops synchronous it cannot run before they return (checked).
import Fastify from 'fastify'
import t from 'tap'
import app from '../../src/app.js'
import { mergeByKey } from '../../src/billing/ingest-billed-costs.js'
import { parseCostPages } from '../../src/billing/parse-cost-pages.js'
import { parseCanonical } from '../../src/ingest/canonical.js'
import { checkShapes } from '../../src/ingest/intervals.js'
import { mergeRows } from '../../src/ingest/merge.js'
import { parseOpenAIPages } from '../../src/ingest/openai-page.js'
import { mergeResources } from '../../src/ingest/resource.js'
import { MAX_EVENTS_PER_REQUEST } from '../../src/ingest/events/event-schema.js'
import { bearer, eachEngine, freshDb, tenantWithKey, testConfig } from '../helpers.js'

const ROWS = 50_000
const HOUR = 3600

/** Canonical buckets with distinct natural keys over 30 days of hours. */
const canonicalRows = Array.from({ length: ROWS }, (_, i) => ({
  start_time: 1_759_276_800 + (i % 720) * HOUR,
  end_time: 1_759_276_800 + (i % 720) * HOUR + HOUR,
  model: `model-${i % 10}`,
  project_id: `proj_${i % 50}`,
  api_key_id: `key_${i}`,
  num_model_requests: 1,
  input_tokens: 100 + (i % 97),
  output_tokens: 10,
}))

/**
 * How many turns of the event loop other work got while `work` ran: a callback that re-queues itself with
 * setImmediate runs once in each turn the loop gives (never while it runs synchronously). A 1 ms interval
 * timer counted them before, but a turn taken from the check phase can come back to it without passing the
 * timers phase, so a loop that yielded once or twice could count 0 (CI failed `checkShapes` so once).
 */
async function turnsGivenDuring(work: () => Promise<unknown>): Promise<number> {
  let ticks = 0
  let next = setImmediate(function tick() {
    ticks++
    next = setImmediate(tick)
  })
  // The ticker's first run is not a turn the work gave: count from the work's start.
  await new Promise((resolve) => setImmediate(resolve))
  ticks = 0
  try {
    await work()
  } finally {
    clearImmediate(next)
  }
  return ticks
}

t.test(`the loops over ${ROWS.toLocaleString('en')} rows let timers run while they work`, async (t) => {
  let canonical: Awaited<ReturnType<typeof parseCanonical>> | undefined
  t.ok((await turnsGivenDuring(async () => (canonical = await parseCanonical({ buckets: canonicalRows })))) > 0, 'parseCanonical (buckets)')
  t.equal(canonical!.rows.length, ROWS, 'every row parsed')
  const resources = canonicalRows.map((r) => ({ start_time: r.start_time, end_time: r.end_time, project_id: r.project_id, api_key_id: r.api_key_id, resource: 'images', quantity: 1 }))
  let parsedResources: typeof canonical
  t.ok((await turnsGivenDuring(async () => (parsedResources = await parseCanonical({ resources })))) > 0, 'parseCanonical (resources)')
  t.equal(parsedResources!.resources.length, ROWS, 'every resource parsed')
  const page = {
    data: [{ object: 'bucket', start_time: 1_759_276_800, end_time: 1_759_276_800 + 86_400, results: canonicalRows.map(({ start_time: _s, end_time: _e, ...r }) => r) }],
  }
  t.ok((await turnsGivenDuring(() => parseOpenAIPages(page, {}))) > 0, 'parseOpenAIPages (walkUsagePages: OpenAI and Anthropic pages)')
  t.ok((await turnsGivenDuring(() => mergeRows(canonical!.rows))) > 0, 'mergeRows')
  t.ok((await turnsGivenDuring(() => mergeResources(parsedResources!.resources))) > 0, 'mergeResources')
  const costs = {
    data: [{ object: 'bucket', start_time: 1_759_276_800, end_time: 1_759_276_800 + 86_400, results: canonicalRows.map((r) => ({
      object: 'organization.costs.result', amount: { value: '0.0123', currency: 'usd' }, line_item: `${r.model}, input`, project_id: r.project_id, api_key_id: r.api_key_id,
    })) }],
  }
  let billed: Awaited<ReturnType<typeof parseCostPages>> | undefined
  t.ok((await turnsGivenDuring(async () => (billed = await parseCostPages(costs, {})))) > 0, 'parseCostPages')
  t.equal(billed!.rows.length, ROWS, 'every cost parsed')
  // Summing billed rows by natural key hashes each row (a cost CSV of 150,000 rows held the loop for 1.1 s).
  let merged: Awaited<ReturnType<typeof mergeByKey>> | undefined
  t.ok((await turnsGivenDuring(async () => (merged = await mergeByKey(billed!.rows)))) > 0, 'mergeByKey (billed costs)')
  t.equal(merged!.length, ROWS, 'every cost has its own key')
  // checkShapes is the lightest loop: four accounts' copies of the rows (built before the count starts) so
  // that it runs for several slices however fast the machine is.
  const shaped = Array.from({ length: 4 }, (_, i) => canonical!.rows.map((r) => ({ dims: { ...r.bucket, accountId: `acct_${i}` }, kind: r.bucket.usageType }))).flat()
  t.ok((await turnsGivenDuring(() => checkShapes(shaped))) > 0, 'checkShapes')
})

t.test('a synchronous loop of the same length lets none run (what the test above would see without turns)', async (t) => {
  const ticks = await turnsGivenDuring(async () => {
    const until = performance.now() + 50
    while (performance.now() < until);
  })
  t.equal(ticks, 0)
})

// POST /v1/usage/events validated every event of a body in one synchronous loop: 10,000 events of 2.4 KB
// (a 24 MB body) held the event loop for seconds. The request below is all validation — every event is
// before the retention cutoff, so each is normalised and hashed, then rejected, and nothing is stored —
// and a liveness check is sent once the events handler has started: it must be answered before the
// events request's answer is on its way (its onSend), i.e. while the events are being validated.
void eachEngine(t, async (t, engine) => {
  const db = await freshDb(t, engine)
  const server = Fastify({ logger: false, bodyLimit: 32 * 1024 * 1024 })
  const order: string[] = []
  let answered: () => void
  const lightAnswered = new Promise<void>((resolve) => (answered = resolve))
  const events = (url: string) => url === '/v1/usage/events'
  server.addHook('preHandler', async (req) => {
    if (!events(req.url)) return
    order.push('events: handler starts')
    // After this turn: with the loop synchronous, not before the events are all validated.
    setImmediate(() =>
      void server.inject({ url: '/healthz' }).then((res) => {
        order.push(`healthz: ${res.statusCode}`)
        answered()
      }),
    )
  })
  server.addHook('onSend', async (req, reply) => {
    if (events(req.url)) order.push(`events: ${reply.statusCode} sent`)
  })
  await server.register(app, { config: testConfig({ RETENTION_MONTHS: '1' }), db })
  await server.ready()
  t.teardown(() => server.close())
  const { key } = await tenantWithKey(server, ['ingest'])
  const note = 'x'.repeat(2_300)
  const body = {
    events: Array.from({ length: MAX_EVENTS_PER_REQUEST }, (_, i) => ({
      id: `old-${i}`,
      timestamp: '2001-02-03T04:05:06Z',
      model: 'gpt-4o-mini',
      input_tokens: 100 + i,
      output_tokens: 10,
      labels: { team: `team-${i % 20}` },
      metadata: { note },
    })),
  }

  t.test('a light request is answered while a 24 MB events body is validated', async (t) => {
    const payload = JSON.stringify(body)
    t.ok(payload.length > 24_000_000, `${(payload.length / 1e6).toFixed(1)} MB`)
    const res = await server.inject({ method: 'POST', url: '/v1/usage/events', headers: { ...bearer(key), 'content-type': 'application/json' }, payload })
    t.equal(res.statusCode, 200)
    const results = (res.json() as { results: { status: string; errors?: { path: string }[] }[] }).results
    t.equal(results.length, MAX_EVENTS_PER_REQUEST)
    t.ok(results.every((r) => r.status === 'rejected' && r.errors?.[0]?.path === 'timestamp'), 'every event validated, then rejected by the retention cutoff')
    await lightAnswered
    t.same(order, ['events: handler starts', 'healthz: 200', 'events: 200 sent'])
  })
})
