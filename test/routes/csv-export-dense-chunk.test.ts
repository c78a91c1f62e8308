import t from 'tap'
import { postBuckets } from '../factories/buckets.js'
import { bearer, build, eachEngine, isProblem, tenantWithKey } from '../helpers.js'

// A CSV export reads its range in chunks of the widest page (31 days at 1d), each one statement held to
// MAX_RESULT_CELLS rows. Only the first chunk was checked before the 200: a later, denser chunk (a month in
// which many more models or keys were used) failed after the body had started, and the client got a CSV
// cut off at the end of the previous chunk. Such a chunk is now read again as fewer buckets.

const T0 = 1_759_276_800 // 2025-10-01
const DAY = 86_400

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine, { MAX_RESULT_CELLS: '100' })
  const { key } = await tenantWithKey(app, ['ingest', 'read'])
  const bucket = (day: number, model: string) => ({ start_time: T0 + day * DAY, end_time: T0 + (day + 1) * DAY, model, input_tokens: 10 + day, output_tokens: 1 })
  const posted: [number, string][] = []
  for (let day = 0; day < 62; day++) posted.push([day, 'gpt-5'])
  // Day 40 (the second chunk) holds 79 more models: that chunk has 110 rows, over the 100 of the bound.
  for (let m = 0; m < 79; m++) posted.push([40, `model-${String(m).padStart(2, '0')}`])
  // Day 70, alone, is over the bound by itself.
  for (let m = 0; m < 101; m++) posted.push([70, `model-${String(m).padStart(3, '0')}`])
  t.equal((await postBuckets(app, key, { buckets: posted.map(([day, model]) => bucket(day, model)) })).statusCode, 200)
  const csv = (query: string) =>
    app.inject({ method: 'GET', url: `/v1/organization/usage/completions?bucket_width=1d&group_by=model&${query}`, headers: { ...bearer(key), accept: 'text/csv' } })

  t.test('a later chunk over the bound is read as fewer buckets: every row arrives', async (t) => {
    const res = await csv(`start_time=${T0}&end_time=${T0 + 62 * DAY}`)
    t.equal(res.statusCode, 200, res.body.slice(0, 300))
    const [header, ...lines] = res.body.trimEnd().split('\n')
    const columns = header!.split(',')
    const at = (line: string, column: string) => line.split(',')[columns.indexOf(column)]!
    const got = lines.map((l) => [Number(at(l, 'start_time')), at(l, 'model')] as const).sort()
    const want = posted.filter(([day]) => day < 62).map(([day, model]) => [T0 + day * DAY, model] as const).sort()
    t.equal(lines.length, 141)
    t.same(got, want, 'each posted (day, model) once, the dense day included')
    t.same(lines.filter((l) => at(l, 'start_time') === String(T0 + 40 * DAY)).map((l) => Number(at(l, 'input_tokens'))), Array(80).fill(50))
  })

  t.test('one bucket over the bound on its own is still the 400, before anything is sent', async (t) => {
    const res = await csv(`start_time=${T0 + 70 * DAY}&end_time=${T0 + 80 * DAY}`)
    t.equal(res.statusCode, 400)
    t.ok(isProblem(res))
    t.match(res.json().errors, [{ path: 'querystring.group_by', message: /produces 101 rows .* limit of 100/ }])
  })
})
