// Micro-benchmark of the per-event CPU of POST /v1/usage/events before the database: validation and
// normalisation (`normalizeEvent`, which includes the content hash), the content hash alone, the
// generic sorted-keys serialisation (`canonicalJson`) the hash must stay byte-identical to, and the
// token-class derivation. Events are bench row 3's (bench/lib/data.ts `event`). No server, no
// database; ~30 s on an idle machine (BENCH_ITERATIONS, BENCH_ROUNDS to change).
//   npx tsx bench/event-hash.ts
import { createHash } from 'node:crypto'
import { canonicalJson, contentHash, normalizeEvent, type NormalizedEvent } from '../src/ingest/events/normalize-event.js'
import { deriveTokenClasses, type RawCounters } from '../src/ingest/token-classes.js'
import { event } from './lib/data.js'

const N = 200
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7)
const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 20_000)

const items = Array.from({ length: N }, (_, i) => event(`ev-${i}`, i))
const normalized: NormalizedEvent[] = items.map((item) => {
  const n = normalizeEvent(item)
  if (!n.ok) throw new Error(`bench event ${JSON.stringify(item)} is invalid: ${JSON.stringify(n.errors)}`)
  return n.event
})

let sink = 0
/** Median µs per call of `fn` over ROUNDS rounds of ITERATIONS calls, after one warm-up round. */
function measure(name: string, fn: (i: number) => string | number): number {
  const rounds: number[] = []
  for (let r = 0; r <= ROUNDS; r++) {
    const start = process.hrtime.bigint()
    for (let i = 0; i < ITERATIONS; i++) {
      const out = fn(i % N)
      sink += typeof out === 'string' ? out.length : out
    }
    if (r > 0) rounds.push(Number(process.hrtime.bigint() - start) / 1000 / ITERATIONS)
  }
  rounds.sort((a, b) => a - b)
  const median = rounds[Math.floor(rounds.length / 2)]!
  console.log(`${name.padEnd(46)} ${median.toFixed(2)} µs/event (rounds ${rounds[0]!.toFixed(2)}–${rounds[rounds.length - 1]!.toFixed(2)})`)
  return median
}

const generic = (e: NormalizedEvent) => createHash('sha256').update(canonicalJson(e)).digest('hex')
for (const e of normalized) if (contentHash(e) !== generic(e)) throw new Error(`hash differs from the generic one for ${e.id}`)

measure('normalizeEvent (validation + hash)', (i) => (normalizeEvent(items[i]) as { ok: boolean }).ok ? 1 : 0)
measure('contentHash (as shipped)', (i) => contentHash(normalized[i]!))
measure('sha256(generic canonicalJson) (reference)', (i) => generic(normalized[i]!))
measure('generic canonicalJson alone', (i) => canonicalJson(normalized[i]!))
const counters: RawCounters[] = items.map((item) => ({
  input_tokens: (item.input_tokens as number | undefined) ?? 800,
  input_cached_tokens: (item.input_cached_tokens as number | undefined) ?? 256,
  output_tokens: (item.output_tokens as number | undefined) ?? 90,
  num_model_requests: 1,
}))
measure('deriveTokenClasses', (i) => (deriveTokenClasses(counters[i]!).ok ? 1 : 0))
const text = canonicalJson(normalized[0])
measure(`sha256 alone (${text.length}-byte text)`, () => createHash('sha256').update(text).digest('hex'))
if (sink === 0) console.log('')
