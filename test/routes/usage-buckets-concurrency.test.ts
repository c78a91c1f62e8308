import t from 'tap'
import { postBuckets } from '../factories/buckets.js'
import { build, tenantWithKey } from '../helpers.js'

// 64 clients re-post overlapping pages of the same hours, rows in random order, some requests
// touching two accounts. Writers of the same rows used to lock them in their payload's order and
// deadlock; the retries hid most of it, but ~1% of requests still ended in a 500 after 13–16 s.
// Writers of one provider account are now serialised (advisory locks taken in key order), so no
// deadlock can happen at all — asserted through PostgreSQL's own counter. PostgreSQL only: PGlite
// runs one statement at a time.
const CLIENTS = 64
const DURATION_MS = 10_000
const T0 = 1_759_276_800
const HOUR = 3_600
const HOURS = 12
const MODELS = 8
const ACCOUNTS = ['acct-a', 'acct-b']

const shuffled = <T>(xs: T[]): T[] => {
  const a = [...xs]
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[a[i], a[j]] = [a[j]!, a[i]!]
  }
  return a
}
const pick = <T>(xs: T[], n: number): T[] => shuffled(xs).slice(0, n)
const int = (n: number) => Math.floor(Math.random() * n)

t.test('64 clients re-posting the same hours: no 5xx, no deadlock, rollups exact', { skip: !process.env.TEST_DATABASE_URL && 'TEST_DATABASE_URL is not set' }, async (t) => {
  const app = await build(t, 'postgres')
  const { key, tenantId } = await tenantWithKey(app, ['ingest'])
  const hours = Array.from({ length: HOURS }, (_, h) => T0 + h * HOUR)
  const models = Array.from({ length: MODELS }, (_, m) => `model-${m}`)

  // Canonical buckets: random (hour, model, account) cells, in random order, often two accounts.
  const canonical = () => {
    const cells = pick(
      hours.flatMap((h) => models.flatMap((m) => ACCOUNTS.map((a) => [h, m, a] as const))),
      20 + int(60),
    )
    return {
      body: { buckets: cells.map(([h, m, a]) => ({ start_time: h, end_time: h + HOUR, model: m, account_id: a, input_tokens: 1 + int(1000), output_tokens: int(100) })) },
      query: '',
    }
  }
  // An OpenAI page of one account: random hours (in random order), each with random models.
  const page = () => ({
    body: {
      object: 'page',
      data: pick(hours, 2 + int(HOURS - 2)).map((h) => ({
        object: 'bucket',
        start_time: h,
        end_time: h + HOUR,
        results: pick(models, 1 + int(MODELS)).map((m) => ({ model: m, input_tokens: 1 + int(1000), output_tokens: int(100), num_model_requests: 1 + int(5) })),
      })),
    },
    query: `?account_id=${ACCOUNTS[int(ACCOUNTS.length)]}`,
  })

  const deadlocks = async () =>
    (await app.testDb.query<{ n: number }>('select deadlocks::int8 as n from pg_stat_database where datname = current_database()'))[0]!.n
  const before = await deadlocks()
  const statuses = new Map<number, number>()
  const errors: string[] = []
  const deadline = Date.now() + DURATION_MS
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (Date.now() < deadline) {
        const { body, query } = Math.random() < 0.5 ? canonical() : page()
        const res = await postBuckets(app, key, body, 'application/json', query)
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
        if (res.statusCode !== 200 && errors.length < 5) errors.push(`${res.statusCode}: ${res.body}`)
      }
    }),
  )
  const total = [...statuses.values()].reduce((a, b) => a + b, 0)
  t.ok(total >= CLIENTS, `${total} requests in ${DURATION_MS / 1000} s`)
  t.same(Object.fromEntries(statuses), { 200: total }, 'every request answered 200')
  t.same(errors, [])
  // A backend reports its statistics at most once a second, when idle: give them time to arrive.
  await new Promise((r) => setTimeout(r, 2_500))
  t.equal((await deadlocks()) - before, 0, 'PostgreSQL detected no deadlock')

  // The rollup still equals the hourly aggregate of the buckets after all that.
  const drift = await app.testDb.query(
    `with b as (select date_trunc('hour', start_time, 'UTC') as hour, account_id, model, count(*)::int8 as n, sum(input_tokens)::int8 as i, sum(output_tokens)::int8 as o
                from usage_buckets where tenant_id = $1 group by 1, 2, 3),
          r as (select hour, account_id, model, sum(bucket_count)::int8 as n, sum(input_tokens)::int8 as i, sum(output_tokens)::int8 as o
                from usage_bucket_hourly where tenant_id = $1 group by 1, 2, 3)
     select * from b full join r using (hour, account_id, model) where (b.n, b.i, b.o) is distinct from (r.n, r.i, r.o)`,
    [tenantId],
  )
  t.same(drift, [], 'usage_bucket_hourly equals the aggregate of usage_buckets')
})
