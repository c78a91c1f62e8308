import t from 'tap'
import { postBuckets } from '../factories/buckets.js'
import { build, tenantWithKey } from '../helpers.js'

// The overlap rule under concurrency: two reports of one provider account and day at different
// granularity (a day vs 24 hours; a page grouped by model vs an ungrouped one) race each other. Each
// checks the stored buckets and writes (JSON in memory, or a CSV through the staging table); without serialising check + write per account, both checks
// ran before either write committed and both were stored — the day counted twice. PostgreSQL only:
// PGlite runs one statement at a time, so its requests cannot interleave.
const ROUNDS = 200
const T0 = 1_735_689_600 // 2025-01-01
const DAY = 86_400
const HOUR = 3_600

t.test('concurrent reports of different shapes for one account and day: exactly one is stored', { skip: !process.env.TEST_DATABASE_URL && 'TEST_DATABASE_URL is not set' }, async (t) => {
  const app = await build(t, 'postgres')
  const { key, tenantId } = await tenantWithKey(app, ['ingest'])

  const dayBucket = (day: number, acct: string) => ({ buckets: [{ start_time: day, end_time: day + DAY, model: 'gpt-4o', account_id: acct, input_tokens: 24 }] })
  const hourBuckets = (day: number, acct: string) => ({
    buckets: Array.from({ length: 24 }, (_, h) => ({ start_time: day + h * HOUR, end_time: day + (h + 1) * HOUR, model: 'gpt-4o', account_id: acct, input_tokens: 1 })),
  })
  // OpenAI pages of the same day, one grouped by model and one not (model null): different shapes.
  const page = (day: number, model: string | null) => ({
    object: 'page',
    data: [{ object: 'bucket', start_time: day, end_time: day + DAY, results: [{ model, input_tokens: 24, output_tokens: 0, num_model_requests: 1 }] }],
  })
  // The same 24 hours as a streamed CSV export (the staged path).
  const hourCsv = (day: number) =>
    'start_time,end_time,model,input_tokens\n' + Array.from({ length: 24 }, (_, h) => `${day + h * HOUR},${day + (h + 1) * HOUR},gpt-4o,1\n`).join('')
  const post = (body: object | string, acct: string) =>
    // The account is the default of page and CSV rows; a {"buckets"} row names its own (the parameter beside it is a 400).
    typeof body === 'object' && 'buckets' in body
      ? postBuckets(app, key, body)
      : postBuckets(app, key, body, typeof body === 'string' ? 'text/csv' : 'application/json', `?account_id=${acct}`)

  const failures: string[] = []
  let doubleStored = 0
  // Lanes of distinct accounts run side by side (writers of one account are serialised by the fix).
  const lane = async (acct: string, rounds: number[]) => {
    for (const round of rounds) {
      const day = T0 + round * DAY
      const byModel = round % 3 === 1
      const [a, b] = byModel
        ? [page(day, 'gpt-4o'), page(day, null)]
        : [dayBucket(day, acct), round % 3 === 0 ? hourBuckets(day, acct) : hourCsv(day)]
      // Alternate who is sent first, so neither side always wins the race.
      const [ra, rb] = round % 4 < 2 ? await Promise.all([post(a, acct), post(b, acct)]) : (await Promise.all([post(b, acct), post(a, acct)])).reverse()
      const statuses = [ra!.statusCode, rb!.statusCode]
      const stored = await app.testDb.query<{ n: number; models: number; spans: number }>(
        `select count(*)::int8 as n, count(distinct model)::int8 + (count(*) filter (where model is null) > 0)::int::int8 as models,
           count(distinct end_time - start_time)::int8 as spans
         from usage_buckets where tenant_id = $1 and account_id = $2 and start_time >= to_timestamp($3) and start_time < to_timestamp($3 + ${DAY})`,
        [tenantId, acct, day],
      )
      const s = stored[0]!
      const winner = statuses[0] === 200 ? 'a' : 'b'
      const expectedRows = byModel || winner === 'a' ? 1 : 24
      if (statuses.filter((c) => c === 200).length !== 1 || !statuses.includes(409))
        failures.push(`${acct} round ${round}: statuses ${statuses.join(', ')} (${ra!.statusCode === 500 ? ra!.body : rb!.body})`)
      if (s.n !== expectedRows || s.spans !== 1 || s.models !== 1) {
        failures.push(`${acct} round ${round}: ${s.n} rows stored, ${s.spans} granularities, ${s.models} model groupings`)
        if (s.spans > 1 || s.models > 1) doubleStored++
      }
    }
  }
  const LANES = 4
  await Promise.all(
    Array.from({ length: LANES }, (_, l) => lane(`acct-${l}`, Array.from({ length: ROUNDS / LANES }, (_, i) => i * LANES + l))),
  )
  t.equal(doubleStored, 0, `no day stored at two granularities (of ${ROUNDS})`)
  t.same(failures, [], 'each round: one request 200, the other 409, and only the winner stored')
})
