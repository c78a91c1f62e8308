import fc from 'fast-check'
import t from 'tap'
import type { NormalisedBucket } from '../../src/ingest/bucket.js'
import { checkShapes as checkRows, type BucketShape } from '../../src/ingest/intervals.js'
import { declaredShape } from '../../src/ingest/shapes.js'
import { mergeRows } from '../../src/ingest/merge.js'

const H = 3_600_000
const classes = { requests: 1, inputTokens: 5, outputTokens: 2, inText: 5, inAudio: 0, inImage: 0, cachedText: 0, cachedAudio: 0, cachedImage: 0, cacheWrite: 0, cacheWrite1h: 0, outText: 2, outAudio: 0, outImage: 0 }
const bucket = (startH: number, endH: number, over: Partial<NormalisedBucket> = {}): NormalisedBucket => ({
  provider: 'openai',
  accountId: null,
  startMs: startH * H,
  endMs: endH * H,
  projectId: null,
  userId: null,
  apiKeyId: null,
  model: 'm',
  serviceTier: 'default',
  batch: null,
  contextTier: null,
  inferenceGeo: null,
  usageType: 'completions',
  present: 8 + ((over.projectId ?? null) !== null ? 1 : 0),
  classes,
  ...over,
})
const checkShapes = (rows: NormalisedBucket[]) => checkRows(rows.map((b) => ({ dims: b, kind: b.usageType })))

t.test('rows sharing start and end are one shape: the dimensions any of them reports, and they do not overlap', async (t) => {
  const rows = [bucket(0, 1), bucket(0, 1, { model: 'n', projectId: 'p' }), bucket(0, 1, { serviceTier: 'flex', present: 8 + 32 })]
  const r = await checkShapes(rows)
  t.equal(r.overlapping, false)
  t.equal(r.shapes.length, 1)
  t.equal(r.shapes[0]!.shape, String(1 + 8 + 32))
  t.same(rows.map((b) => b.shape), ['41', '41', '41'], 'every row carries its shape')
})

t.test('a declared group_by is the shape, with what rows report; other usage types are shapes of their own', async (t) => {
  const rows = [bucket(0, 1), bucket(0, 1, { usageType: 'embeddings' })]
  const r = await checkRows(rows.map((b) => ({ dims: b, kind: b.usageType })), declaredShape(['workspace_id', 'api_key_id']))
  t.equal(r.overlapping, false)
  t.same(r.shapes.map((s) => [s.kind, s.shape]), [['completions', String(1 + 4 + 8)], ['embeddings', String(1 + 4 + 8)]])
})

t.test('resources: attribute keys are part of the shape; declared attributes apply only where the resource has them', async (t) => {
  const img = { ...bucket(0, 1), attributes: {} }
  const r = await checkRows(
    [
      { dims: { ...img }, kind: 'images', attributeKeys: ['size'] },
      { dims: { ...img }, kind: 'web_search_calls', attributeKeys: [] },
    ],
    declaredShape(['source']),
    (k) => (k === 'images' ? ['size', 'source'] : []),
  )
  t.same(r.shapes.map((s) => [s.kind, s.shape]), [['images', '8|size,source'], ['web_search_calls', '8']])
})

t.test('a day and an hour inside it overlap, whatever their order; adjacent hours do not', async (t) => {
  t.equal((await checkShapes([bucket(13, 14), bucket(0, 24)])).overlapping, true)
  t.equal((await checkShapes([bucket(0, 24), bucket(0, 1)])).overlapping, true)
  t.equal((await checkShapes([bucket(0, 1), bucket(1, 2), bucket(3, 4)])).overlapping, false)
})

t.test('a long bucket is remembered past the shorter ones after it', async (t) => {
  t.equal((await checkShapes([bucket(0, 10), bucket(10, 11), bucket(2, 3)])).overlapping, true)
  t.equal((await checkShapes([bucket(0, 10), bucket(1, 2), bucket(10, 11)])).overlapping, true)
})

t.test('other accounts and providers never overlap each other', async (t) => {
  const r = await checkShapes([bucket(0, 24), bucket(0, 1, { accountId: 'a' }), bucket(0, 1, { provider: 'anthropic' })])
  t.equal(r.overlapping, false)
  t.equal(r.shapes.length, 3)
})

t.test('only a shape that does not start where the previous one ends leads a run', async (t) => {
  const r = await checkShapes([bucket(1, 2), bucket(0, 1), bucket(3, 4), bucket(2, 3, { accountId: 'a' })])
  t.same(
    r.shapes.map((s) => [s.accountId, s.startMs / H, s.leads]),
    [
      [null, 0, true],
      [null, 1, false],
      [null, 3, true],
      ['a', 2, true],
    ],
  )
})

t.test('agrees with a pairwise check on random rows', async () => {
  const row = fc.record({
    start: fc.integer({ min: 0, max: 8 }),
    len: fc.constantFrom(1, 2, 3),
    account: fc.constantFrom(null, 'a'),
    project: fc.constantFrom(null, 'p'),
  })
  await fc.assert(
    fc.asyncProperty(fc.array(row, { maxLength: 8 }), async (rows) => {
      const buckets = rows.map((r) => bucket(r.start, r.start + r.len, { accountId: r.account, projectId: r.project }))
      const pairwise = buckets.some((a, i) =>
        buckets.some(
          (b, j) =>
            j !== i &&
            a.accountId === b.accountId &&
            a.startMs < b.endMs &&
            b.startMs < a.endMs &&
            !(a.startMs === b.startMs && a.endMs === b.endMs),
        ),
      )
      return (await checkShapes(buckets)).overlapping === pairwise
    }),
    { numRuns: 500 },
  )
})

/**
 * The shapes as checkShapes computed them before it stopped building key text per row: grouped by an
 * account key and a `start/end` key, each account's shapes sorted by start and end.
 */
async function shapesByKeyText(rows: readonly { dims: NormalisedBucket; kind: string }[]) {
  const groups = new Map<string, Map<string, { shape: BucketShape; mask: number; members: NormalisedBucket[] }>>()
  for (const r of rows) {
    const d = r.dims
    const account = JSON.stringify([d.provider, d.accountId, r.kind])
    let byTime = groups.get(account)
    if (!byTime) groups.set(account, (byTime = new Map()))
    const key = `${d.startMs}/${d.endMs}`
    let g = byTime.get(key)
    if (!g) byTime.set(key, (g = { shape: { provider: d.provider, accountId: d.accountId, kind: r.kind, startMs: d.startMs, endMs: d.endMs, shape: '', leads: true }, mask: 0, members: [] }))
    g.mask |= d.present
    g.members.push(d)
  }
  const all: BucketShape[] = []
  let overlapping = false
  const rowShapes = new Map<NormalisedBucket, string>()
  for (const byTime of groups.values()) {
    for (const g of byTime.values()) {
      g.shape.shape = String(g.mask)
      for (const m of g.members) rowShapes.set(m, g.shape.shape)
    }
    let maxEnd = -Infinity
    for (const s of [...byTime.values()].map((g) => g.shape).sort((a, b) => a.startMs - b.startMs || a.endMs - b.endMs)) {
      if (s.startMs < maxEnd) overlapping = true
      s.leads = s.startMs !== maxEnd
      maxEnd = Math.max(maxEnd, s.endMs)
      all.push(s)
    }
  }
  return { shapes: all, overlapping, rowShapes: rows.map((r) => rowShapes.get(r.dims)) }
}

t.test('the same shapes, in the same order, as grouping by key text: interleaved accounts and kinds, several ends at one start', async () => {
  const row = fc.record({
    start: fc.integer({ min: 0, max: 6 }),
    len: fc.constantFrom(1, 2, 24),
    provider: fc.constantFrom('openai', 'anthropic'),
    account: fc.constantFrom(null, 'a', 'b'),
    kind: fc.constantFrom('completions', 'embeddings'),
    project: fc.constantFrom(null, 'p'),
    model: fc.constantFrom(null, 'm'),
  })
  await fc.assert(
    fc.asyncProperty(fc.array(row, { maxLength: 30 }), async (rows) => {
      const make = () =>
        rows.map((r) => {
          const b = bucket(r.start, r.start + r.len, {
            provider: r.provider,
            accountId: r.account,
            usageType: r.kind as NormalisedBucket['usageType'],
            projectId: r.project,
            model: r.model,
            present: (r.project === null ? 0 : 1) + (r.model === null ? 0 : 8),
          })
          return { dims: b, kind: b.usageType }
        })
      const ours = make()
      const got = await checkRows(ours)
      const expected = await shapesByKeyText(make())
      t.same({ shapes: got.shapes, overlapping: got.overlapping, rowShapes: ours.map((r) => r.dims.shape) }, expected)
    }),
    { numRuns: 1000 },
  )
})

t.test('merging sums rows of one natural key under the first index, and flags sums above 2^53 − 1', async (t) => {
  const big = { ...classes, inputTokens: Number.MAX_SAFE_INTEGER, inText: Number.MAX_SAFE_INTEGER }
  const r = await mergeRows([
    { index: 0, bucket: bucket(0, 1) },
    { index: 1, bucket: bucket(0, 1, { model: 'n', classes: { ...classes, requests: null } }) },
    { index: 2, bucket: bucket(0, 1, { classes: { ...classes, requests: null } }) },
    { index: 3, bucket: bucket(0, 1, { model: 'big', classes: big }) },
    { index: 4, bucket: bucket(0, 1, { model: 'big', classes: big }) },
  ])
  t.same(
    r.rows.map((x) => [x.index, x.bucket.model, x.bucket.classes.requests, x.bucket.classes.inputTokens]),
    [
      [0, 'm', 1, 10],
      [1, 'n', null, 5],
      [3, 'big', 1 + 1, 2 * Number.MAX_SAFE_INTEGER],
    ],
  )
  t.same(r.problems.items, [{ index: 3, path: '', message: 'the sum of the rows sharing this natural key exceeds 2^53 − 1' }])
})
