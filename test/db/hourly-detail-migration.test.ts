import t from 'tap'
import { migrate } from '../../src/db/migrate.js'
import { maintainPartitions } from '../../src/db/partitions.js'
import { queryUsagePage, type UsageArgs } from '../../src/usage/usage-service.js'
import { seedBuckets, seedCard, type SeedBucket } from '../factories/usage.js'
import { eachEngine } from '../helpers.js'
import { emptyDb, migrationsBefore } from '../setup/migration-dbs.js'

/**
 * Migration 0015 (project and user in the hourly rollup) on a database that already holds data, part of
 * it only in the rollups: retention had dropped January's buckets and kept their rollup rows. Those rows
 * cannot be split by project and user, so they stay undivided (`detailed = false`) and a project or user
 * query over January must not read them (it takes the daily rollup, which kept project and user);
 * February's rows are rebuilt from its buckets; queries that do not distinguish project or user still
 * read January from the hourly rollup.
 */

const HOUR = 3_600_000
const JAN = Date.parse('2026-01-10T00:00:00Z')
const FEB = Date.parse('2026-02-10T00:00:00Z')

/** 48 hourly buckets from `t0`: two projects, two users, two models. */
const buckets = (t0: number): SeedBucket[] =>
  Array.from({ length: 48 }, (_, i) => ({
    start: new Date(t0 + i * HOUR),
    end: new Date(t0 + (i + 1) * HOUR),
    projectId: `proj_${i % 2}`,
    userId: i % 3 === 0 ? null : `user_${i % 3}`,
    apiKeyId: `key_${i}`,
    model: i % 4 < 2 ? 'gpt-5-2025-08-07' : 'gpt-5-mini-2025-08-07',
    requests: 1 + (i % 5),
    inText: 1000 + i,
    outText: 100 + i,
  }))

const ROLLUP = `select tenant_id, hour, provider, account_id, project_id, user_id, model, service_tier, batch, source, usage_type,
    context_tier, inference_geo, off_hour_count, bucket_count, requests_known, num_model_requests, input_tokens, output_tokens, in_text, out_text
  from usage_bucket_hourly where hour >= $1 and hour < $2 and detailed = $3 order by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13`
const GROUPED = `select tenant_id, date_trunc('hour', start_time, 'UTC') as hour, provider, account_id, project_id, user_id, model, service_tier,
    batch, source, usage_type, context_tier, inference_geo,
    count(*) filter (where start_time <> date_trunc('hour', start_time, 'UTC'))::int8 as off_hour_count, count(*)::int8 as bucket_count,
    count(num_model_requests)::int8 as requests_known, coalesce(sum(num_model_requests), 0)::int8 as num_model_requests,
    sum(input_tokens)::int8 as input_tokens, sum(output_tokens)::int8 as output_tokens, sum(in_text)::int8 as in_text, sum(out_text)::int8 as out_text
  from usage_buckets where start_time >= $1 and start_time < $2 group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13 order by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13`

void t.test('migration 0015 rebuilds the hourly rollup by project and user and keeps rows whose buckets retention dropped', (t) =>
  eachEngine(t, async (t, engine) => {
    const db = await emptyDb(t, engine, 'hourlymig')
    await migrate(db, migrationsBefore(t, '_hourly_project_user'))
    await maintainPartitions(db, { monthsAhead: 2 }, new Date(JAN))
    await seedBuckets(db, 'acme', [...buckets(JAN), ...buckets(FEB)])
    await seedCard(db, 'card', [{ model: 'gpt-5*', recordedAt: new Date(JAN), effectiveFrom: new Date('2025-01-01T00:00:00Z'), prices: { input: '1.25', output: '10' } }])
    const args = (from: number, over: Partial<UsageArgs>): UsageArgs => ({
      tenantId: 'acme', from: new Date(from), to: new Date(from + 2 * 24 * HOUR), window: 'DAY', timeZone: 'UTC', groupBy: [],
      groupByLabels: [], filter: {}, rateCard: 'card', first: 1000, pricingAsOf: new Date('2026-06-01T00:00:00Z'), ...over,
    })
    const run = (a: UsageArgs) => queryUsagePage(db, a, { maxGroups: 10_000 })
    const shapes: [string, Partial<UsageArgs>][] = [
      ['days by project', { groupBy: ['PROJECT'] }],
      ['total by user and model', { window: 'TOTAL', groupBy: ['USER', 'MODEL'] }],
      ['days filtered by project', { groupBy: ['MODEL'], filter: { projectIds: ['proj_1'] } }],
      ['days by model', { groupBy: ['MODEL'] }],
    ]
    // January's answers while its buckets are stored (from the base table).
    const january = new Map<string, Awaited<ReturnType<typeof run>>>()
    for (const [name, over] of shapes) january.set(name, await run(args(JAN, { ...over, rollups: false })))
    t.ok(january.get('days by project')!.rows.length > 0, 'not vacuous')
    const undividedBefore = await db.query(`select hour, model, bucket_count, input_tokens from usage_bucket_hourly where hour < $1 order by 1, 2`, [new Date(FEB).toISOString()])

    // Retention drops January's partition (no trigger fires) and keeps its rollup rows; then the upgrade.
    const { dropped } = await maintainPartitions(db, { retentionMonths: 1 }, new Date('2026-03-15T00:00:00Z'))
    t.ok(dropped.includes('usage_buckets_p202601'), 'January buckets dropped')
    const applied = await migrate(db)
    t.match(applied, [/_hourly_project_user$/], 'migration 0015 was pending')

    const janRange = [new Date('2026-01-01T00:00:00Z').toISOString(), new Date('2026-02-01T00:00:00Z').toISOString()]
    const febRange = [new Date('2026-02-01T00:00:00Z').toISOString(), new Date('2026-03-01T00:00:00Z').toISOString()]
    t.same(await db.query(ROLLUP, [...febRange, true]), await db.query(GROUPED, febRange), "February's rows are rebuilt by project and user")
    t.same(await db.query(ROLLUP, [...febRange, false]), [], 'none of them undivided')
    const undivided = await db.query<{ project_id: string | null; user_id: string | null }>(ROLLUP, [...janRange, false])
    t.equal(undivided.length, 48 / 2 + 48 / 2, "January's rows are kept, undivided (one per hour and model)")
    t.ok(undivided.every((r) => r.project_id === null && r.user_id === null), 'with project and user unknown')
    t.same(
      await db.query(`select hour, model, bucket_count, input_tokens from usage_bucket_hourly where hour < $1 order by 1, 2`, [new Date(FEB).toISOString()]),
      undividedBefore,
      'with their sums unchanged',
    )

    // Over January: project and user queries come from the daily rollup, the rest from the undivided rows.
    for (const [name, over] of shapes) {
      const now = await run(args(JAN, over))
      t.same(now.rows, january.get(name)!.rows, `January ${name}: the rows its buckets gave`)
      t.same(now.totals, january.get(name)!.totals, `January ${name}: the totals its buckets gave`)
    }
    // Over February (buckets stored): every shape equals the base table.
    for (const [name, over] of shapes) {
      const [viaRollup, viaBase] = [await run(args(FEB, over)), await run(args(FEB, { ...over, rollups: false }))]
      t.same(viaRollup.rows, viaBase.rows, `February ${name}: the base table's rows`)
    }

    // Buckets stored again into a January hour: one without project or user adds to the undivided row.
    await seedBuckets(db, 'acme', [{ start: new Date(JAN), end: new Date(JAN + HOUR), model: 'gpt-5-2025-08-07', inText: 7 }])
    const [first] = await db.query<{ bucket_count: number; detailed: boolean }>(
      `select bucket_count, detailed from usage_bucket_hourly where hour = $1 and model = 'gpt-5-2025-08-07' and project_id is null and user_id is null`,
      [new Date(JAN).toISOString()],
    )
    t.same(first, { bucket_count: 2, detailed: false }, 'a re-stored bucket without project or user joins the undivided row')
  }),
)
