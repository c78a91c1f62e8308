// A JSON body of BODY_LIMIT holds ~150,000 buckets; parsing, merging and shaping them took seconds of
// one turn of the event loop, and for that long no other request of the process was served. Each
// long loop now gives the event loop a turn every slice (src/ingest/turns.ts). A timer stands for
// the other requests: with the loops synchronous it cannot fire before they return (checked).
import t from 'tap'
import { parseCostPages } from '../../src/billing/parse-cost-pages.js'
import { parseCanonical } from '../../src/ingest/canonical.js'
import { checkShapes } from '../../src/ingest/intervals.js'
import { mergeRows } from '../../src/ingest/merge.js'
import { parseOpenAIPages } from '../../src/ingest/openai-page.js'
import { mergeResources } from '../../src/ingest/resource.js'

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

/** How many times a 1 ms timer fired while `work` ran. */
async function timerTicksDuring(work: () => Promise<unknown>): Promise<number> {
  let ticks = 0
  const timer = setInterval(() => ticks++, 1)
  try {
    await work()
  } finally {
    clearInterval(timer)
  }
  return ticks
}

t.test(`the loops over ${ROWS.toLocaleString('en')} rows let timers run while they work`, async (t) => {
  let canonical: Awaited<ReturnType<typeof parseCanonical>> | undefined
  t.ok((await timerTicksDuring(async () => (canonical = await parseCanonical({ buckets: canonicalRows })))) > 0, 'parseCanonical (buckets)')
  t.equal(canonical!.rows.length, ROWS, 'every row parsed')
  const resources = canonicalRows.map((r) => ({ start_time: r.start_time, end_time: r.end_time, project_id: r.project_id, api_key_id: r.api_key_id, resource: 'images', quantity: 1 }))
  let parsedResources: typeof canonical
  t.ok((await timerTicksDuring(async () => (parsedResources = await parseCanonical({ resources })))) > 0, 'parseCanonical (resources)')
  t.equal(parsedResources!.resources.length, ROWS, 'every resource parsed')
  const page = {
    data: [{ object: 'bucket', start_time: 1_759_276_800, end_time: 1_759_276_800 + 86_400, results: canonicalRows.map(({ start_time: _s, end_time: _e, ...r }) => r) }],
  }
  t.ok((await timerTicksDuring(() => parseOpenAIPages(page, {}))) > 0, 'parseOpenAIPages (walkUsagePages: OpenAI and Anthropic pages)')
  t.ok((await timerTicksDuring(() => mergeRows(canonical!.rows))) > 0, 'mergeRows')
  t.ok((await timerTicksDuring(() => mergeResources(parsedResources!.resources))) > 0, 'mergeResources')
  const costs = {
    data: [{ object: 'bucket', start_time: 1_759_276_800, end_time: 1_759_276_800 + 86_400, results: canonicalRows.map((r) => ({
      object: 'organization.costs.result', amount: { value: '0.0123', currency: 'usd' }, line_item: `${r.model}, input`, project_id: r.project_id, api_key_id: r.api_key_id,
    })) }],
  }
  let billed: Awaited<ReturnType<typeof parseCostPages>> | undefined
  t.ok((await timerTicksDuring(async () => (billed = await parseCostPages(costs, {})))) > 0, 'parseCostPages')
  t.equal(billed!.rows.length, ROWS, 'every cost parsed')
  t.ok((await timerTicksDuring(() => checkShapes(canonical!.rows.map((r) => ({ dims: r.bucket, kind: r.bucket.usageType }))))) > 0, 'checkShapes')
})

t.test('a synchronous loop of the same length lets none run (what the test above would see without turns)', async (t) => {
  const ticks = await timerTicksDuring(async () => {
    const until = performance.now() + 50
    while (performance.now() < until);
  })
  t.equal(ticks, 0)
})
