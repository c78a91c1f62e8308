import t from 'tap'
import { postBuckets } from '../factories/buckets.js'
import { bearer, build, eachEngine, isProblem, tenantWithKey } from '../helpers.js'

// A CSV export reads every bucket of its range (`limit` does not apply), one line per bucket even when
// empty: the range is bounded by the windows limit (MAX_RESULT_CELLS), as GraphQL's `usage` windows are.
// Unbounded, `bucket_width=1m` from 1970 streamed 29 million empty buckets (to 9999: four billion),
// 1,440 per statement, for as long as the client read; a bad range is a 400 before anything is sent.

const T0 = 1_759_276_800 // 2025-10-01
const HOUR = 3600

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine, { MAX_RESULT_CELLS: '1000' })
  const { key } = await tenantWithKey(app, ['ingest', 'read'])
  t.equal((await postBuckets(app, key, { buckets: [{ start_time: T0, end_time: T0 + HOUR, model: 'gpt-5', input_tokens: 10, output_tokens: 1 }] })).statusCode, 200)
  const csv = (path: string, query: string) =>
    app.inject({ method: 'GET', url: `/v1/organization/${path}?${query}`, headers: { ...bearer(key), accept: 'text/csv' } })

  t.test('an export of more buckets than the limit is a 400 naming end_time, nothing streamed', async (t) => {
    for (const [path, query, buckets] of [
      ['usage/completions', `start_time=${T0}&end_time=${T0 + 1001 * HOUR}&bucket_width=1h`, 1001],
      ['usage/completions', `start_time=${T0 + 1800}&end_time=${T0 + 1000 * HOUR + 1}&bucket_width=1h`, 1001],
      ['usage/completions', `start_time=0&bucket_width=1m`, undefined],
      ['usage/images', `start_time=${T0}&end_time=${T0 + 2000 * 60}&bucket_width=1m`, 2000],
      ['usage/embeddings', `start_time=${T0}&end_time=${T0 + 1001 * 86_400}`, 1001],
      ['costs', `start_time=0&end_time=253402300799`, 2_932_897],
    ] as const) {
      const res = await csv(path, query)
      t.equal(res.statusCode, 400, `${path}?${query}`)
      t.ok(isProblem(res), 'a problem')
      const errors = res.json().errors as { path: string; message: string }[]
      t.match(errors, [{ path: 'querystring.end_time', message: buckets ? new RegExp(`spans ${buckets} buckets .* limit of 1000`) : /limit of 1000/ }])
    }
  })

  t.test('every problem is named at once', async (t) => {
    const res = await csv('usage/completions', `start_time=0&end_time=${T0}&bucket_width=1h&rate_card=nope`)
    t.equal(res.statusCode, 400)
    t.same((res.json().errors as { path: string }[]).map((e) => e.path).sort(), ['querystring.end_time', 'querystring.rate_card'])
  })

  t.test('up to the limit the whole range streams, one line per bucket; JSON pages are bounded by limit, not the range', async (t) => {
    const res = await csv('usage/completions', `start_time=${T0 + 1800}&end_time=${T0 + 999 * HOUR + 1800}&bucket_width=1h`)
    t.equal(res.statusCode, 200, res.body.slice(0, 300))
    t.equal(res.body.trimEnd().split('\n').length, 1 + 1000, 'the header and 1,000 buckets')
    const json = await app.inject({ method: 'GET', url: `/v1/organization/usage/completions?start_time=0&bucket_width=1m`, headers: bearer(key) })
    t.equal(json.statusCode, 200)
    t.equal(json.json().data.length, 60)
  })
})
