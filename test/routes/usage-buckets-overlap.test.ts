import fc from 'fast-check'
import t from 'tap'
import { build, eachEngine, tenantWithKey } from '../helpers.js'
import { postBuckets, rowCount } from '../factories/buckets.js'

// The overlap rule against stored buckets is checked with index probes (first stored bucket in the
// range, last one before it, once per run of adjacent shapes); these cases aim at each probe.
const T0 = 1735689600
const H = 3600
const at = (startH: number, endH: number, over: Record<string, unknown> = {}) => ({
  start_time: T0 + startH * H,
  end_time: T0 + endH * H,
  model: 'gpt-4o',
  input_tokens: 1,
  ...over,
})

interface Shape {
  account: string | null
  start: number
  end: number
  project: boolean
}
const overlaps = (a: Shape, b: Shape) =>
  a.account === b.account && a.start < b.end && b.start < a.end && !(a.start === b.start && a.end === b.end && a.project === b.project)

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const stored = async (buckets: object[]) => {
    const tenant = await tenantWithKey(app, ['ingest'])
    const first = await postBuckets(app, tenant.key, { buckets })
    t.equal(first.statusCode, 200, first.body)
    return tenant
  }

  const refused = [
    ['an hour at the start of a stored day', [at(0, 24)], [at(0, 1)]],
    ['an hour inside a stored day (the bucket before it reaches across)', [at(0, 24)], [at(13, 14)]],
    ['a day around a stored hour', [at(13, 14)], [at(0, 24)]],
    ['a run of hours whose second one a stored bucket starts inside', [at(12.5, 13.5, { model: 'x' })], [at(12, 13), at(13, 14)]],
    ['a run of hours a stored bucket reaches into from before', [at(11.5, 12.5)], [at(12, 13), at(13, 14), at(14, 15)]],
    ['the same range as a stored bucket with another report shape', [at(0, 1)], [at(0, 1, { model: 'b', project_id: 'p' })]],
    ['the same range of another shape, the stored row having a null project inside its shape', [at(0, 1, { project_id: 'p' }), at(0, 1, { model: 'b' })], [at(0, 1, { model: 'c' })]],
    ['the same overlap within one account', [at(0, 24, { account_id: 'a' })], [at(5, 6, { account_id: 'a' })]],
  ] as const
  for (const [name, before, incoming] of refused)
    t.test(`409 for ${name}, nothing written`, async (t) => {
      const { key, tenantId } = await stored([...before])
      const res = await postBuckets(app, key, { buckets: incoming })
      t.equal(res.statusCode, 409, res.body)
      t.match(res.json(), { detail: /stored bucket \d+/ })
      t.equal(await rowCount(app, tenantId), before.length)
    })

  const accepted = [
    ['adjacent hours and a second model in a stored hour', [at(12, 13), at(14, 15)], [at(11, 12), at(12, 13, { model: 'b' }), at(13, 14), at(15, 16)]],
    ['the same hours for another account', [at(0, 24)], [at(0, 1, { account_id: 'a' }), at(1, 2, { account_id: 'a' })]],
    ['hours after a stored day', [at(0, 24)], [at(24, 25), at(25, 26)]],
    ['the same range and shape with a null inside a grouped dimension', [at(0, 1, { project_id: 'p' }), at(0, 1, { model: 'b' })], [at(0, 1, { model: 'c' }), at(0, 1, { model: 'd', project_id: 'q' })]],
    ['the same hours for another usage type', [at(0, 24)], [at(0, 1, { usage_type: 'embeddings' })]],
  ] as const
  for (const [name, before, incoming] of accepted)
    t.test(`200 for ${name}`, async (t) => {
      const { key, tenantId } = await stored([...before])
      const res = await postBuckets(app, key, { buckets: incoming })
      t.equal(res.statusCode, 200, res.body)
      t.equal(await rowCount(app, tenantId), before.length + incoming.length)
    })

  t.test('more rows than one statement takes: all written, re-post unchanged, a conflict writes nothing', async (t) => {
    const { key, tenantId } = await tenantWithKey(app, ['ingest'])
    const many = Array.from({ length: 6100 }, (_, i) => at(i % 24, (i % 24) + 1, { model: `m${i}` }))
    t.match((await postBuckets(app, key, { buckets: many })).json(), { received: 6100, created: 6100 })
    t.match((await postBuckets(app, key, { buckets: many })).json(), { created: 0, replaced: 0, unchanged: 6100 })
    const renamed = many.map((b) => ({ ...b, model: `${b.model}x` }))
    // The stored clash sits in the second chunk, the check runs with the first.
    const stored = await postBuckets(app, key, { buckets: [...renamed, at(0, 24, { model: 'day' })] })
    t.equal(stored.statusCode, 409, stored.body)
    t.match(stored.json(), { errors: [{ index: 6100 }] })
    const within = await postBuckets(app, key, { buckets: [...renamed, at(30, 32), at(31, 32, { model: 'late' })] })
    t.equal(within.statusCode, 409, within.body)
    t.match(within.json(), { detail: /index 6100 .* overlaps the bucket at index 6101/ })
    t.equal(await rowCount(app, tenantId), 6100)
  })

  t.test('CSV (staged path): a clash with a stored bucket or within the file is 409 by line; an oversized sum is 400', async (t) => {
    const { key, tenantId } = await stored([at(0, 24)])
    const csv = (rows: [number, number, string, number][]) =>
      ['start_time,end_time,model,input_tokens', ...rows.map(([s, e, m, n]) => `${T0 + s * H},${T0 + e * H},${m},${n}`)].join('\n')
    const withStored = await postBuckets(app, key, csv([[24, 25, 'a', 1], [30, 31, 'a', 1], [5, 6, 'a', 1]]), 'text/csv')
    t.equal(withStored.statusCode, 409, withStored.body)
    t.match(withStored.json(), { detail: /line 4 .* overlaps stored bucket \d+/, errors: [{ line: 4 }] })
    const within = await postBuckets(app, key, csv([[24, 25, 'a', 1], [30, 32, 'a', 1], [31, 32, 'b', 1]]), 'text/csv')
    t.equal(within.statusCode, 409, within.body)
    t.match(within.json(), { detail: /line 3 .* overlaps the bucket at line 4/ })
    const big = Number.MAX_SAFE_INTEGER
    const oversized = await postBuckets(app, key, csv([[24, 25, 'a', big], [25, 26, 'a', 1], [24, 25, 'a', big]]), 'text/csv')
    t.equal(oversized.statusCode, 400, oversized.body)
    t.match(oversized.json(), { errors: [{ line: 2, message: /2\^53/ }] })
    t.equal(await rowCount(app, tenantId), 1)
    const ok = await postBuckets(app, key, csv([[24, 25, 'a', 1], [25, 26, 'a', 2], [24, 25, 'a', 3], [24, 25, 'b', 1]]), 'text/csv')
    t.match(ok.json(), { received: 4, created: 3, replaced: 0, unchanged: 0 })
    t.equal(await rowCount(app, tenantId), 4)
  })

  t.test('a random sequence of posts is refused exactly when a pairwise check says it overlaps', async (t) => {
    const shape = fc.record({
      account: fc.constantFrom(null, 'a'),
      start: fc.integer({ min: 0, max: 6 }),
      len: fc.constantFrom(1, 2, 3),
      project: fc.boolean(),
    })
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(shape, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 4 }), async (posts) => {
        const { key } = await tenantWithKey(app, ['ingest'])
        const model: Shape[] = []
        for (const post of posts) {
          // One request's rows of one (account, start, end) are one report shape: project grouped if any row has one.
          const shapes = post.map((s) => ({ account: s.account, start: s.start, end: s.start + s.len, project: s.project }))
          for (const s of shapes)
            s.project = shapes.some((o) => o.project && o.account === s.account && o.start === s.start && o.end === s.end)
          const clash = shapes.some((a, i) => model.some((b) => overlaps(a, b)) || shapes.some((b, j) => j !== i && overlaps(a, b)))
          const buckets = shapes.map((s, i) =>
            at(s.start, s.end, { model: `m${model.length + i}`, ...(s.account ? { account_id: s.account } : {}), ...(post[i]!.project ? { project_id: 'p' } : {}) }),
          )
          const res = await postBuckets(app, key, { buckets })
          if (res.statusCode !== (clash ? 409 : 200)) return false
          if (!clash) model.push(...shapes)
        }
        return true
      }),
      { numRuns: 12 },
    )
    t.pass('agrees on every sequence')
  })
})
