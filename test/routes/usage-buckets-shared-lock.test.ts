import t from 'tap'
import { lockAccountsOf } from '../../src/db/queries/buckets.js'
import { postBuckets } from '../factories/buckets.js'
import { build, tenantWithKey, waitUntilBlocked } from '../helpers.js'

// Writers whose every shape (provider, account, usage type, start, end, report shape) is already
// stored hold their accounts' locks shared and run side by side (src/db/queries/buckets.ts,
// `lockAccounts`); all others, and DELETE, hold them exclusively. PostgreSQL only: PGlite runs one
// statement at a time, so requests cannot interleave there.
const T0 = 1_735_689_600 // 2025-01-01
const HOUR = 3_600
const skip = !process.env.TEST_DATABASE_URL && 'TEST_DATABASE_URL is not set'

const hours = (day: number, acct: string, key: string, tokens: number) => ({
  buckets: Array.from({ length: 24 }, (_, h) => ({
    start_time: day + h * HOUR,
    end_time: day + (h + 1) * HOUR,
    model: 'gpt-4o',
    account_id: acct,
    api_key_id: key,
    input_tokens: tokens,
  })),
})
const hourCsv = (day: number, key: string, tokens: number) =>
  'start_time,end_time,model,api_key_id,input_tokens\n' +
  Array.from({ length: 24 }, (_, h) => `${day + h * HOUR},${day + (h + 1) * HOUR},gpt-4o,${key},${tokens}\n`).join('')

t.test('concurrent writers of stored shapes: every row counted once, re-posts change nothing', { skip }, async (t) => {
  const app = await build(t, 'postgres')
  const { key, tenantId } = await tenantWithKey(app, ['ingest'])
  const acct = 'acct-shared'
  // The shapes: 24 hourly buckets of the day, with api_key_id and model reported.
  t.equal((await postBuckets(app, key, hours(T0, acct, 'k0', 1))).statusCode, 200)
  // 16 writers at once: new keys of the stored shapes (JSON and CSV), and re-posts of k0.
  const writers = Array.from({ length: 16 }, (_, i) =>
    i % 4 === 3
      ? postBuckets(app, key, hours(T0, acct, 'k0', 1))
      : i % 2 === 0
        ? postBuckets(app, key, hours(T0, acct, `k${i + 1}`, i + 1))
        : postBuckets(app, key, hourCsv(T0, `k${i + 1}`, i + 1), 'text/csv', `?account_id=${acct}`),
  )
  const replies = await Promise.all(writers)
  t.same(replies.map((r) => r.statusCode), replies.map(() => 200), 'every writer succeeded')
  replies.forEach((r, i) => {
    const body = r.json<{ created: number; replaced: number; unchanged: number }>()
    if (i % 4 === 3) t.same([body.created, body.replaced, body.unchanged], [0, 0, 24], `re-post ${i} changed nothing`)
    else t.equal(body.created, 24, `writer ${i} created its 24 buckets`)
  })
  const [stored] = await app.testDb.query<{ n: number; tokens: number }>(
    `select count(*)::int8 as n, sum(input_tokens)::int8 as tokens from usage_buckets where tenant_id = $1 and account_id = $2`,
    [tenantId, acct],
  )
  const writerTokens = Array.from({ length: 16 }, (_, i) => (i % 4 === 3 ? 0 : i + 1)).reduce((a, b) => a + b, 0)
  t.same(stored, { n: 24 * 13, tokens: 24 * (1 + writerTokens) }, 'the first writer and 12 new keys, once each')
  const [rollup] = await app.testDb.query<{ tokens: number }>(
    `select sum(input_tokens)::int8 as tokens from usage_bucket_hourly where tenant_id = $1 and account_id = $2`,
    [tenantId, acct],
  )
  t.equal(rollup!.tokens, stored!.tokens, 'the hourly rollup counts the same')
})

t.test('a writer that chose shared locks, then finds its shapes gone under them, starts again exclusively', { skip }, async (t) => {
  const app = await build(t, 'postgres')
  const { key, tenantId } = await tenantWithKey(app, ['ingest'])
  for (const [kind, acct] of [['json', 'acct-json'], ['csv', 'acct-csv']] as const) {
    await t.test(kind, async (t) => {
      t.equal((await postBuckets(app, key, hours(T0, acct, 'k0', 1))).statusCode, 200)
      // Another writer holds the account exclusively: it replaces the 24 hours by one day bucket.
      let reply: ReturnType<typeof postBuckets> | undefined
      await app.testDb.transaction(async (tx) => {
        await lockAccountsOf(tx, tenantId, [{ provider: 'openai', accountId: acct }])
        await tx.query(`delete from usage_buckets where tenant_id = $1 and account_id = $2`, [tenantId, acct])
        await tx.query(
          `insert into usage_buckets (tenant_id, provider, account_id, start_time, end_time, model, api_key_id, service_tier, usage_type,
             input_tokens, in_text, source, shape)
           values ($1, 'openai', $2, $3::timestamptz, $3::timestamptz + interval '1 day', 'gpt-4o', 'k0', 'default', 'completions', 24, 24, 'api', 'day')`,
          [tenantId, acct, new Date(T0 * 1000).toISOString()],
        )
        // Meanwhile a writer of the (still visibly stored) hourly shapes arrives and waits for the lock.
        reply = kind === 'json'
          ? postBuckets(app, key, hours(T0, acct, 'k1', 5))
          : postBuckets(app, key, hourCsv(T0, 'k1', 5), 'text/csv', `?account_id=${acct}`)
        await waitUntilBlocked(app.testDb, { waitEvent: 'advisory', pending: reply })
      })
      const r = await reply!
      t.equal(r.statusCode, 409, `the hours overlap the day bucket now stored: ${r.body.slice(0, 200)}`)
      const rows = await app.testDb.query<{ n: number; spans: number }>(
        `select count(*)::int8 as n, count(distinct end_time - start_time)::int8 as spans from usage_buckets where tenant_id = $1 and account_id = $2`,
        [tenantId, acct],
      )
      t.same(rows[0], { n: 1, spans: 1 }, 'only the day bucket is stored')
    })
  }
})
