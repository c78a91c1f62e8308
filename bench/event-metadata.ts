// Micro-benchmark of an event carrying metadata (~1.7 KiB, 40 keys, one nested object): its per-event CPU
// before the database — validation and content hash (`normalizeEvent`) plus the text its metadata column
// is sent as. No server, no database. `npx tsx bench/event-metadata.ts` (BENCH_ITERATIONS, BENCH_ROUNDS).
import { metadataJson, normalizeEvent } from '../src/ingest/events/normalize-event.js'

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7)
const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 20_000)
const N = 100

const items = Array.from({ length: N }, (_, i) => ({
  id: `meta-${i}`,
  timestamp: '2026-11-05T10:00:00Z',
  model: 'gpt-4o-mini',
  input_tokens: 500 + i,
  output_tokens: 20 + i,
  metadata: {
    ...Object.fromEntries(Array.from({ length: 40 }, (_, k) => [`attribute_${k}`, `value ${k} of request ${i}`])),
    trace: { span_id: `span-${i}`, parent: `parent-${i}`, sampled: true, depth: i % 7 },
  },
}))

let sink = 0
const rounds: number[] = []
for (let r = 0; r <= ROUNDS; r++) {
  // A fresh copy per call, as each request parses its own body; copied before the clock starts.
  const copies = Array.from({ length: ITERATIONS }, (_, i) => structuredClone(items[i % N]))
  // CPU time of this process (not wall time), so that other processes on the machine count less.
  const start = process.cpuUsage()
  for (let i = 0; i < ITERATIONS; i++) {
    const n = normalizeEvent(copies[i])
    if (!n.ok) throw new Error(JSON.stringify(n.errors))
    sink += metadataJson(n.event.metadata!).length + n.hash.length
  }
  const used = process.cpuUsage(start)
  if (r > 0) rounds.push((used.user + used.system) / ITERATIONS)
}
rounds.sort((a, b) => a - b)
console.log(`normalizeEvent + metadata column text: ${rounds[Math.floor(rounds.length / 2)]!.toFixed(2)} µs of CPU per event (rounds ${rounds[0]!.toFixed(2)}–${rounds.at(-1)!.toFixed(2)}; ${sink > 0 ? 'ok' : ''})`)
