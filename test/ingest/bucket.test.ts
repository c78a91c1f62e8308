import { Readable } from 'node:stream'
import { setFlagsFromString } from 'node:v8'
import { runInThisContext } from 'node:vm'
import t from 'tap'
import { assembleBucket, RowProblems, type BucketFields, type NormalisedBucket } from '../../src/ingest/bucket.js'
import { readUsageCsv } from '../../src/ingest/openai-csv.js'

// On Node 20 (V8 11.3), optimised code gave every `{ ...dims, usageType, classes }` a hidden class of
// its own, built in old space: per row, garbage only a full GC frees (a 1M-row CSV import grew the
// server's heap by ~150 MB; docs/performance.md "Ingest, round 10"). Buckets must share one hidden class
// once the code that builds them is optimised. V8's own test intrinsics say so, not a timing.
setFlagsFromString('--allow-natives-syntax')
const intrinsic = <F>(source: string) => runInThisContext(source) as F
const haveSameMap = intrinsic<(a: object, b: object) => boolean>('(a, b) => %HaveSameMap(a, b)')
const prepareForOptimization = intrinsic<(f: unknown) => void>('(f) => %PrepareFunctionForOptimization(f)')
const optimizeOnNextCall = intrinsic<(f: unknown) => void>('(f) => %OptimizeFunctionOnNextCall(f)')
const optimizationStatus = intrinsic<(f: unknown) => number>('(f) => %GetOptimizationStatus(f)')
const OPTIMIZED = 1 << 4

const fields = (i: number): BucketFields => ({
  startMs: 1_735_689_600_000 + i * 3_600_000,
  endMs: 1_735_689_600_000 + (i + 1) * 3_600_000,
  provider: 'openai',
  accountId: null,
  projectId: `proj_${i % 7}`,
  userId: null,
  apiKeyId: null,
  model: 'gpt-4o',
  serviceTier: null,
  batch: null,
  counters: { input_tokens: 100 + i, input_cached_tokens: i % 50, output_tokens: 20 },
})

void t.test('buckets built by optimised code share one hidden class (no hidden class per row)', async (t) => {
  const build = (i: number) => assembleBucket(fields(i), new RowProblems({ index: i }))!
  prepareForOptimization(assembleBucket)
  const before = [build(0), build(1)]
  optimizeOnNextCall(assembleBucket)
  const after = [build(2), build(3), build(4)]
  t.ok(optimizationStatus(assembleBucket) & OPTIMIZED, 'assembleBucket runs optimised')
  for (const b of [...before, ...after.slice(1)]) t.ok(haveSameMap(after[0]!, b), 'same hidden class')
  t.match(after[0], { provider: 'openai', projectId: 'proj_2', model: 'gpt-4o', serviceTier: 'default', usageType: 'completions', classes: { inText: 100, cachedText: 2, outText: 20 } })
  t.same(Object.keys(after[0]!).slice(-2), ['usageType', 'classes'], 'the fields last, as the spread had them')
})

void t.test('the rows of a long CSV export share one hidden class', async (t) => {
  const lines = ['start_time,end_time,project_id,model,input_tokens,output_tokens']
  for (let i = 0; i < 30_000; i++) lines.push(`${1_735_689_600 + (i % 30) * 86_400},${1_735_776_000 + (i % 30) * 86_400},proj_${i % 7},gpt-4o,${100 + i},20`)
  // The first rows are built by interpreted code, the last by optimised code.
  const kept: NormalisedBucket[] = []
  let n = 0
  const summary = await readUsageCsv(Readable.from([lines.join('\n')]), {}, (bucket) => {
    if (n++ < 10 || n > 29_990) kept.push(bucket)
  })
  t.equal(summary.received, 30_000)
  t.equal(summary.problems.length, 0)
  t.equal(kept.length, 20)
  t.ok(kept.every((b) => haveSameMap(b, kept[0]!)), 'one hidden class from the first row to the last')
})

t.test('a bucket whose times differ only below the millisecond is refused saying so, not as if end were before start', async (t) => {
  const csv = [
    'start_time_iso,end_time_iso,model,input_tokens',
    '2025-10-05T00:00:00.0001Z,2025-10-05T00:00:00.0009Z,m,1',
    '2025-10-05T00:00:01Z,2025-10-05T00:00:00Z,m,1',
  ].join('\n')
  const summary = await readUsageCsv(Readable.from([csv]), {}, () => {})
  t.same(summary.problems.items.map((p) => [p.line, p.path]), [[2, 'end_time'], [3, 'end_time']])
  t.equal(
    summary.problems.items[0]!.message,
    'end_time must be after start_time; both are 2025-10-05T00:00:00.000Z (times are read to the millisecond: further fraction digits are not kept)',
  )
  t.equal(summary.problems.items[1]!.message, 'end_time must be after start_time')
})
