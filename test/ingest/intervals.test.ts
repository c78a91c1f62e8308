import fc from 'fast-check'
import t from 'tap'
import type { NormalisedBucket } from '../../src/ingest/bucket.js'
import { checkShapes, nullMask } from '../../src/ingest/intervals.js'
import { mergeRows } from '../../src/ingest/merge.js'

const H = 3_600_000
const classes = { requests: 1, inputTokens: 5, outputTokens: 2, inText: 5, inAudio: 0, inImage: 0, cachedText: 0, cachedAudio: 0, cachedImage: 0, cacheWrite: 0, outText: 2, outAudio: 0, outImage: 0 }
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
  classes,
  ...over,
})

t.test('rows sharing start, end and null dimensions are one shape and do not overlap', async (t) => {
  const r = checkShapes([bucket(0, 1), bucket(0, 1, { model: 'n' }), bucket(0, 1, { serviceTier: 'flex' })])
  t.equal(r.overlapping, false)
  t.equal(r.shapes.length, 1)
  t.equal(r.shapes[0]!.mask, 1 + 2 + 4 + 16)
})

t.test('the same range with another set of null dimensions overlaps', async (t) => {
  t.equal(checkShapes([bucket(0, 1), bucket(0, 1, { projectId: 'p' })]).overlapping, true)
})

t.test('a day and an hour inside it overlap, whatever their order; adjacent hours do not', async (t) => {
  t.equal(checkShapes([bucket(13, 14), bucket(0, 24)]).overlapping, true)
  t.equal(checkShapes([bucket(0, 24), bucket(0, 1)]).overlapping, true)
  t.equal(checkShapes([bucket(0, 1), bucket(1, 2), bucket(3, 4)]).overlapping, false)
})

t.test('a long bucket is remembered past the shorter ones after it', async (t) => {
  t.equal(checkShapes([bucket(0, 10), bucket(10, 11), bucket(2, 3)]).overlapping, true)
  t.equal(checkShapes([bucket(0, 10), bucket(1, 2), bucket(10, 11)]).overlapping, true)
})

t.test('other accounts and providers never overlap each other', async (t) => {
  const r = checkShapes([bucket(0, 24), bucket(0, 1, { accountId: 'a' }), bucket(0, 1, { provider: 'anthropic' })])
  t.equal(r.overlapping, false)
  t.equal(r.shapes.length, 3)
})

t.test('only a shape that does not start where the previous one ends leads a run', async (t) => {
  const r = checkShapes([bucket(1, 2), bucket(0, 1), bucket(3, 4), bucket(2, 3, { accountId: 'a' })])
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
  fc.assert(
    fc.property(fc.array(row, { maxLength: 8 }), (rows) => {
      const buckets = rows.map((r) => bucket(r.start, r.start + r.len, { accountId: r.account, projectId: r.project }))
      const pairwise = buckets.some((a, i) =>
        buckets.some(
          (b, j) =>
            j !== i &&
            a.accountId === b.accountId &&
            a.startMs < b.endMs &&
            b.startMs < a.endMs &&
            !(a.startMs === b.startMs && a.endMs === b.endMs && nullMask(a) === nullMask(b)),
        ),
      )
      return checkShapes(buckets).overlapping === pairwise
    }),
    { numRuns: 500 },
  )
})

t.test('merging sums rows of one natural key under the first index, and flags sums above 2^53 − 1', async (t) => {
  const big = { ...classes, inputTokens: Number.MAX_SAFE_INTEGER, inText: Number.MAX_SAFE_INTEGER }
  const r = mergeRows([
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
  t.same(r.problems, [{ index: 3, path: '', message: 'the sum of the rows sharing this natural key exceeds 2^53 − 1' }])
})
