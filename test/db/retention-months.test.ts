import t from 'tap'
import { maintainPartitions, monthPartitions, retentionCutoff, utcMonth } from '../../src/db/partitions.js'
import { postBuckets } from '../factories/buckets.js'
import { bearer, build, eachEngine, freshDb, tenantWithKey, uniqueId } from '../helpers.js'

// RETENTION_MONTHS and ROLLUP_RETENTION_MONTHS take any positive integer. Counted back from now, a large
// one once left the range of PostgreSQL's timestamps (maintenance failed every tick, so no month was ever
// created ahead) or of JavaScript's Date (an Invalid Date: every write path answered 500). A retention
// reaching back before 1970 keeps everything tokenledger can store.

const EPOCH = new Date(0)
const now = new Date('2026-12-04T11:00:00Z')
// Months from January 1970 to now's month: the first setting whose cutoff is no later than the epoch.
const toEpoch = (now.getUTCFullYear() - 1970) * 12 + now.getUTCMonth()
const LARGE = [toEpoch + 1, 99_999, 4_000_000, Number.MAX_SAFE_INTEGER]

t.test('a retention reaching back before 1970 cuts off at 1970-01-01, a valid date', async (t) => {
  t.same(retentionCutoff(toEpoch - 1, now), new Date(Date.UTC(1970, 1, 1)), 'one month short of the epoch: February 1970')
  t.same(retentionCutoff(toEpoch, now), EPOCH, 'exactly back to January 1970')
  for (const months of LARGE) t.same(retentionCutoff(months, now), EPOCH, `RETENTION_MONTHS=${months}`)
  t.same(retentionCutoff(1, now), utcMonth(now, -1), 'small settings are unchanged')
})

void t.test('maintenance with huge retention settings creates the months ahead and drops nothing', (t) =>
  eachEngine(t, async (t, engine) => {
    const db = await freshDb(t, engine)
    const tenant = uniqueId('ret')
    await db.query('insert into tenants (id, name) values ($1, $1)', [tenant])
    await db.query(
      `insert into usage_buckets (tenant_id, provider, start_time, end_time, model, service_tier, source, input_tokens, num_model_requests)
       values ($1, 'openai', '1970-01-01T00:00:00Z', '1970-01-01T01:00:00Z', 'gpt-4o', 'default', 'api', 10, 1)`,
      [tenant],
    )
    for (const months of [99_999, 4_000_000]) {
      const r = await maintainPartitions(db, { monthsAhead: 1, retentionMonths: months, rollupRetentionMonths: months }, now)
      t.same(r.dropped, [], `RETENTION_MONTHS=${months}: no partition dropped`)
      t.equal(r.defaultRowsDeleted + r.rollupRowsDeleted, 0, 'no row deleted')
    }
    const names = (await monthPartitions(db, 'usage_buckets')).map((p) => p.name)
    t.ok(names.includes('usage_buckets_p202612') && names.includes('usage_buckets_p202701'), 'this month and the next were created')
    const [kept] = await db.query<{ n: number }>('select count(*)::int8 as n from usage_bucket_hourly where tenant_id = $1', [tenant])
    t.equal(Number(kept!.n), 1, 'the 1970 bucket is still counted')
  }),
)

void t.test('a server with a huge RETENTION_MONTHS stores buckets and events, even from 1970', (t) =>
  eachEngine(t, async (t, engine) => {
    const app = await build(t, engine, { RETENTION_MONTHS: '4000000', PARTITION_MAINTENANCE_INTERVAL_MS: 'off' })
    const { key } = await tenantWithKey(app)
    const hour = Math.floor(Date.now() / 3_600_000) * 3600
    const buckets = [0, hour].map((start) => ({ start_time: start, end_time: start + 3600, model: 'gpt-4o-mini', input_tokens: 10, output_tokens: 1 }))
    const res = await postBuckets(app, key, { buckets })
    t.equal(res.statusCode, 200, res.body)
    const ev = await app.inject({
      method: 'POST',
      url: '/v1/usage/events',
      headers: bearer(key),
      payload: { events: [{ id: 'e-1970', timestamp: '1970-01-01T00:00:00Z', model: 'gpt-4o-mini', input_tokens: 1, output_tokens: 1 }] },
    })
    t.equal(ev.statusCode, 200, ev.body)
    t.match(ev.json(), { results: [{ status: 'created' }] })
  }),
)
