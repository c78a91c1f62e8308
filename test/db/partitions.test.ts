import t from 'tap'
import type { Db } from '../../src/db/client.js'
import { loadConfig } from '../../src/config.js'
import { maintainPartitions, monthPartitions, PARTITIONED_TABLES, utcMonth } from '../../src/db/partitions.js'
import { build, eachEngine, freshDb, uniqueId } from '../helpers.js'

/**
 * Monthly partitions of the raw tables and retention by whole partitions (src/db/partitions.ts,
 * migration partition_by_month), on both engines. Rows are written with plain SQL: the route tests cover ingest on
 * the partitioned tables; these check where rows land and what retention removes and keeps.
 */

const at = (iso: string) => new Date(iso)

async function seedTenant(db: Db): Promise<string> {
  const tenant = uniqueId('part')
  await db.query('insert into tenants (id, name) values ($1, $1)', [tenant])
  return tenant
}

async function addBucket(db: Db, tenant: string, start: string, inputTokens = 10, model = 'gpt-4o'): Promise<void> {
  await db.query(
    `insert into usage_buckets (tenant_id, provider, start_time, end_time, model, service_tier, source, input_tokens, num_model_requests)
     values ($1, 'openai', $2::timestamptz, $2::timestamptz + interval '1 hour', $3, 'default', 'api', $4, 1)`,
    [tenant, start, model, inputTokens],
  )
}

async function addResource(db: Db, tenant: string, start: string): Promise<void> {
  await db.query(
    `insert into usage_resources (tenant_id, provider, start_time, end_time, service_tier, source, resource, quantity)
     values ($1, 'openai', $2::timestamptz, $2::timestamptz + interval '1 hour', 'default', 'api', 'images', '2')`,
    [tenant, start],
  )
}

async function addEvent(db: Db, tenant: string, timestamp: string): Promise<void> {
  const id = uniqueId('ev')
  await db.query(
    `insert into usage_events (tenant_id, id, timestamp, provider, model, service_tier) values ($1, $2, $3, 'openai', 'gpt-4o', 'default')`,
    [tenant, id, timestamp],
  )
  await db.query(`insert into usage_event_ids (tenant_id, id, content_hash, timestamp) values ($1, $2, 'h', $3)`, [tenant, id, timestamp])
  await db.query(
    `insert into usage_event_resources (tenant_id, event_id, timestamp, position, provider, model, service_tier, resource, quantity)
     values ($1, $2, $3, 0, 'openai', 'gpt-4o', 'default', 'web_search_calls', '1')`,
    [tenant, id, timestamp],
  )
  await db.query(
    `insert into usage_event_rollups (tenant_id, hour, provider, model, service_tier, num_model_requests)
     values ($1, date_trunc('hour', $2::timestamptz, 'UTC'), 'openai', 'gpt-4o', 'default', 1)
     on conflict on constraint usage_event_rollups_key do update set num_model_requests = usage_event_rollups.num_model_requests + 1`,
    [tenant, timestamp],
  )
}

/** Which partition holds each row of `table`, as "partition: count". */
async function placement(db: Db, table: string, tenant: string): Promise<Record<string, number>> {
  const rows = await db.query<{ part: string; n: number }>(
    `select tableoid::regclass::text as part, count(*)::int8 as n from ${table} where tenant_id = $1 group by 1 order by 1`,
    [tenant],
  )
  return Object.fromEntries(rows.map((r) => [r.part, r.n]))
}

/** The hourly rollup and the same aggregate computed from the base table, for comparison. */
async function rollupVsBase(db: Db, tenant: string): Promise<{ rollup: unknown[]; base: unknown[] }> {
  const rollup = await db.query(
    `select hour, model, bucket_count, input_tokens from usage_bucket_hourly where tenant_id = $1 order by hour, model`,
    [tenant],
  )
  const base = await db.query(
    `select date_trunc('hour', start_time, 'UTC') as hour, model, count(*)::int8 as bucket_count, sum(input_tokens)::int8 as input_tokens
     from usage_buckets where tenant_id = $1 group by 1, 2 order by 1, 2`,
    [tenant],
  )
  return { rollup, base }
}

void t.test('the server creates the current month and the months ahead, once', (t) =>
  eachEngine(t, async (t, engine) => {
    const db = await freshDb(t, engine)
    const first = await maintainPartitions(db, { monthsAhead: 2 }, at('2031-05-20T12:00:00Z'))
    const expected = ['203105', '203106', '203107'].flatMap((m) => PARTITIONED_TABLES.map(({ table }) => `${table}_p${m}`))
    t.same([...first.created].sort(), [...expected].sort(), 'three months of each partitioned table')
    const again = await maintainPartitions(db, { monthsAhead: 2 }, at('2031-05-31T23:59:59Z'))
    t.same(again.created, [], 'a second run creates nothing')
    t.same(again.dropped, [], 'and, without a retention setting, drops nothing')
  }),
)

void t.test('maintenance builds the extended statistics of usage_buckets (autovacuum never analyzes the parent)', (t) =>
  eachEngine(t, async (t, engine) => {
    const db = await freshDb(t, engine)
    const tenant = await seedTenant(db)
    for (let h = 0; h < 48; h++) await addBucket(db, tenant, new Date(Date.parse('2031-05-01T00:00:00Z') + h * 3_600_000).toISOString(), 10, `m${h % 3}`)
    const built = () =>
      db.query<{ n: number }>(
        `select count(*)::int8 as n from pg_statistic_ext e join pg_statistic_ext_data d on d.stxoid = e.oid
         where e.stxname = 'usage_buckets_group_ndistinct' and d.stxdinherit and d.stxdndistinct is not null`,
      )
    const [defined] = await db.query<{ n: number }>(`select count(*)::int8 as n from pg_statistic_ext where stxname = 'usage_buckets_group_ndistinct'`)
    t.equal(defined!.n, 1, 'migration 0013 defines it on the parent')
    // Migration 0014's (by project) and 0022's (by API key).
    const dailyBuilt = () =>
      db.query<{ n: number }>(
        `select count(*)::int8 as n from pg_statistic_ext e join pg_statistic_ext_data d on d.stxoid = e.oid
         where e.stxname in ('usage_bucket_daily_group_ndistinct', 'usage_bucket_daily_key_ndistinct') and d.stxdndistinct is not null`,
      )
    const [dailyDefined] = await db.query<{ n: number }>(
      `select count(*)::int8 as n from pg_statistic_ext where stxname in ('usage_bucket_daily_group_ndistinct', 'usage_bucket_daily_key_ndistinct')`,
    )
    t.equal(dailyDefined!.n, 2, 'migrations 0014 and 0022 define the daily rollup\'s')
    t.equal((await dailyBuilt())[0]!.n, 0, 'the daily rollup\'s are not built before')
    await maintainPartitions(db, { monthsAhead: 1 }, at('2031-05-20T12:00:00Z'))
    t.equal((await built())[0]!.n, 1, 'built for the whole partitioned table after maintenance')
    t.equal((await dailyBuilt())[0]!.n, 2, 'and the daily rollup\'s: maintenance analyzes the rollups, autovacuum or not')
    const [analyzed] = await db.query<{ n: number }>(
      `select count(*)::int8 as n from pg_class where relname in ('usage_bucket_daily', 'usage_bucket_hourly') and reltuples > 0`,
    )
    t.equal(analyzed!.n, 2, 'both rollups have statistics')
  }),
)

void t.test('the server creates the partitions of this month and the configured months ahead when it starts', (t) =>
  eachEngine(t, async (t, engine) => {
    const app = await build(t, engine, { PARTITION_MONTHS_AHEAD: '2' })
    const now = new Date()
    const names = (await monthPartitions(app.testDb, 'usage_buckets')).map((p) => p.name)
    for (const offset of [0, 1, 2]) {
      const m = utcMonth(now, offset)
      const name = `usage_buckets_p${m.getUTCFullYear()}${String(m.getUTCMonth() + 1).padStart(2, '0')}`
      t.ok(names.includes(name), `${name} exists`)
    }
  }),
)

void t.test('two maintainers starting at once create each partition exactly once', (t) =>
  eachEngine(t, async (t, engine) => {
    const db = await freshDb(t, engine)
    const now = at('2032-01-10T00:00:00Z')
    const [a, b] = await Promise.all([maintainPartitions(db, { monthsAhead: 3 }, now), maintainPartitions(db, { monthsAhead: 3 }, now)])
    const all = [...a!.created, ...b!.created].sort()
    t.equal(all.length, 4 * PARTITIONED_TABLES.length, 'every partition created by one of them')
    t.equal(new Set(all).size, all.length, 'none created twice')
  }),
)

void t.test('rows land in the partition of their month; months without one land in the default partition', (t) =>
  eachEngine(t, async (t, engine) => {
    const db = await freshDb(t, engine)
    const tenant = await seedTenant(db)
    await maintainPartitions(db, { monthsAhead: 1 }, at('2033-03-01T00:00:00Z'))
    // The first and last instant of March, the first of April (a range's upper bound is exclusive), and later.
    for (const start of ['2033-03-01T00:00:00Z', '2033-03-31T23:00:00Z', '2033-04-01T00:00:00Z', '2033-06-15T08:00:00Z']) {
      await addBucket(db, tenant, start)
      await addResource(db, tenant, start)
      await addEvent(db, tenant, start)
    }
    for (const { table } of PARTITIONED_TABLES)
      t.same(await placement(db, table, tenant), { [`${table}_default`]: 1, [`${table}_p203303`]: 2, [`${table}_p203304`]: 1 }, table)
  }),
)

void t.test('a month created after its rows reached the default partition takes them; the rollup is unchanged', (t) =>
  eachEngine(t, async (t, engine) => {
    const db = await freshDb(t, engine)
    const tenant = await seedTenant(db)
    await addBucket(db, tenant, '2034-07-04T10:00:00Z', 5, 'a')
    await addBucket(db, tenant, '2034-07-04T10:00:00Z', 7, 'b')
    await addBucket(db, tenant, '2034-09-01T00:00:00Z', 11, 'a')
    const before = await rollupVsBase(db, tenant)
    t.same(await placement(db, 'usage_buckets', tenant), { usage_buckets_default: 3 })

    const r = await maintainPartitions(db, { monthsAhead: 0 }, at('2034-07-31T00:00:00Z'))
    t.ok(r.created.includes('usage_buckets_p203407'))
    t.same(await placement(db, 'usage_buckets', tenant), { usage_buckets_default: 1, usage_buckets_p203407: 2 })
    const after = await rollupVsBase(db, tenant)
    t.same(after.rollup, before.rollup, 'moving rows between partitions leaves the rollup alone')
    t.same(after.rollup, after.base, 'which still equals the aggregate of the base table')

    // The natural key still replaces across the move: the same bucket again is an upsert on the partition.
    await db.query(
      `insert into usage_buckets (tenant_id, provider, start_time, end_time, model, service_tier, source, input_tokens, num_model_requests)
       values ($1, 'openai', '2034-07-04T10:00:00Z', '2034-07-04T11:00:00Z', 'a', 'default', 'api', 50, 1)
       on conflict (tenant_id, start_time, key_hash) do update set input_tokens = excluded.input_tokens`,
      [tenant],
    )
    const replaced = await rollupVsBase(db, tenant)
    t.same(replaced.rollup, replaced.base, 'an upsert on the partitioned table keeps the rollup exact')
    t.same(await placement(db, 'usage_buckets', tenant), { usage_buckets_default: 1, usage_buckets_p203407: 2 })
  }),
)

void t.test('retention drops exactly the partitions before the cutoff and keeps the rollups longer', (t) =>
  eachEngine(t, async (t, engine) => {
    const db = await freshDb(t, engine)
    const tenant = await seedTenant(db)
    await maintainPartitions(db, { monthsAhead: 5 }, at('2035-10-01T00:00:00Z')) // 2035-10 … 2036-03
    const months = ['2035-10', '2035-11', '2035-12', '2036-01', '2036-02', '2036-03']
    for (const m of months) {
      await addBucket(db, tenant, `${m}-15T12:00:00Z`)
      await addResource(db, tenant, `${m}-15T12:00:00Z`)
      await addEvent(db, tenant, `${m}-15T12:00:00Z`)
    }
    // Default-partition rows: one long before the cutoff, one far after it.
    for (const start of ['2020-01-01T00:00:00Z', '2040-01-01T00:00:00Z']) {
      await addBucket(db, tenant, start)
      await addResource(db, tenant, start)
      await addEvent(db, tenant, start)
    }
    const rollupsBefore = await db.query(`select hour, bucket_count, input_tokens from usage_bucket_hourly where tenant_id = $1 order by hour`, [tenant])

    // As of 2036-03-20 with 2 months kept: the cutoff is 2036-01-01, so Oct, Nov and Dec 2035 go (and any
    // earlier month the database already had, such as those the test template was created with).
    const cutoff = at('2036-01-01T00:00:00Z')
    const earlier: string[] = []
    for (const { table } of PARTITIONED_TABLES)
      for (const p of await monthPartitions(db, table)) if (utcMonth(p.month, 1) <= cutoff) earlier.push(p.name)
    const r = await maintainPartitions(db, { monthsAhead: 0, retentionMonths: 2 }, at('2036-03-20T00:00:00Z'))
    const gone = ['203510', '203511', '203512'].flatMap((m) => PARTITIONED_TABLES.map(({ table }) => `${table}_p${m}`))
    t.same([...r.dropped].sort(), [...earlier].sort(), 'exactly the month partitions that end by the cutoff')
    t.ok(gone.every((name) => r.dropped.includes(name)), 'among them Oct, Nov and Dec 2035')
    t.equal(r.defaultRowsDeleted, 3, 'the 2020 row of each default partition')
    t.equal(r.rollupRowsDeleted, 0, 'no rollup retention set')
    for (const { table, column } of PARTITIONED_TABLES) {
      t.same((await monthPartitions(db, table)).map((p) => p.name), ['203601', '203602', '203603'].map((m) => `${table}_p${m}`), `${table} keeps its later months`)
      const rows = await db.query<{ t: Date }>(`select "${column}" as t from ${table} where tenant_id = $1 order by 1`, [tenant])
      t.same(rows.map((x) => x.t.toISOString().slice(0, 7)), ['2036-01', '2036-02', '2036-03', '2040-01'], `${table} keeps exactly the rows from the cutoff on`)
    }
    const rollupsAfter = await db.query(`select hour, bucket_count, input_tokens from usage_bucket_hourly where tenant_id = $1 order by hour`, [tenant])
    t.same(rollupsAfter, rollupsBefore, 'dropping raw partitions leaves every hourly rollup row')
    const eventRollups = await db.query<{ n: number }>(`select count(*)::int8 as n from usage_event_rollups where tenant_id = $1`, [tenant])
    t.equal(eventRollups[0]!.n, 8, 'and every event rollup row')
    const eventResources = await db.query<{ n: number }>(`select count(*)::int8 as n from usage_event_resources where tenant_id = $1`, [tenant])
    t.equal(eventResources[0]!.n, 8, 'and every event resource (usage reads them beside the event rollups)')

    // Rollups kept 3 months: hours before 2035-12-01 go (Oct, Nov and the 2020 row); the id ledger with them.
    const r2 = await maintainPartitions(db, { monthsAhead: 0, retentionMonths: 2, rollupRetentionMonths: 3 }, at('2036-03-20T00:00:00Z'))
    t.same(r2.dropped, [], 'nothing more to drop')
    t.equal(r2.rollupRowsDeleted, 15, 'three rows each of hourly and daily bucket rollups, event rollups, ids and event resources')
    const days = await db.query<{ d: Date }>(`select day as d from usage_bucket_daily where tenant_id = $1 order by 1`, [tenant])
    t.same(days.map((x) => x.d.toISOString().slice(0, 7)), ['2035-12', '2036-01', '2036-02', '2036-03', '2040-01'], 'the daily rollup is trimmed like the hourly one')
    const hours = await db.query<{ h: Date }>(`select hour as h from usage_bucket_hourly where tenant_id = $1 order by 1`, [tenant])
    t.same(hours.map((x) => x.h.toISOString().slice(0, 7)), ['2035-12', '2036-01', '2036-02', '2036-03', '2040-01'])
    for (const table of ['usage_event_ids', 'usage_event_resources']) {
      const [left] = await db.query<{ n: number }>(`select count(*)::int8 as n from ${table} where tenant_id = $1`, [tenant])
      t.equal(left!.n, 5, `${table} keeps the hours from the rollup cutoff on`)
    }
  }),
)

void t.test('rollups must be kept at least as long as raw rows', async (t) => {
  const base = { DATA_DIR: 'memory://' }
  t.throws(() => loadConfig({ ...base, ROLLUP_RETENTION_MONTHS: '12' }), /ROLLUP_RETENTION_MONTHS/)
  t.throws(() => loadConfig({ ...base, RETENTION_MONTHS: '12', ROLLUP_RETENTION_MONTHS: '6' }), /ROLLUP_RETENTION_MONTHS/)
  t.match(loadConfig({ ...base, RETENTION_MONTHS: '12', ROLLUP_RETENTION_MONTHS: '36' }), { RETENTION_MONTHS: 12, ROLLUP_RETENTION_MONTHS: 36 })
  t.equal(loadConfig(base).RETENTION_MONTHS, undefined, 'unset: kept forever')
})
