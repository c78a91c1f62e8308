import t from 'tap'
import { migrate } from '../../src/db/migrate.js'
import { eachEngine } from '../helpers.js'
import { emptyDb, migrationsBefore } from '../setup/migration-dbs.js'

/**
 * The partitioning migration on a database that already holds data: rows, ids and the id sequence
 * carry over into month partitions (the months that have rows) and the hourly rollup still equals the
 * aggregate of the buckets. The migration is found by name, since the lead renumbers migrations.
 */

const ROLLUP_VS_BASE = `
  select (select json_agg(r order by r.hour, r.model) from (
      select hour, model, bucket_count, input_tokens from usage_bucket_hourly) r)::text as rollup,
    (select json_agg(b order by b.hour, b.model) from (
      select date_trunc('hour', start_time, 'UTC') as hour, model, count(*)::int8 as bucket_count, sum(input_tokens)::int8 as input_tokens
      from usage_buckets group by 1, 2) b)::text as base`

void t.test('the partitioning migration moves existing rows into month partitions and keeps the rollup exact', (t) =>
  eachEngine(t, async (t, engine) => {
    const db = await emptyDb(t, engine, 'partmig')
    await migrate(db, migrationsBefore(t, '_partition_by_month'))
    // 90 hourly buckets from the last days of January into February, a resource and an event.
    await db.query(
      `insert into usage_buckets (tenant_id, provider, start_time, end_time, model, service_tier, source, input_tokens)
       select 'acme', 'openai', s, s + interval '1 hour', 'm' || (i % 3), 'default', 'api', i
       from generate_series(1, 90) i, lateral (select timestamptz '2026-01-30T00:00:00Z' + i * interval '1 hour' as s) x`,
    )
    await db.query(
      `insert into usage_resources (tenant_id, provider, start_time, end_time, service_tier, source, resource, quantity)
       values ('acme', 'openai', '2026-03-01T00:00:00Z', '2026-03-02T00:00:00Z', 'default', 'api', 'images', '4')`,
    )
    await db.query(`insert into usage_events (tenant_id, id, timestamp, provider, model, service_tier) values ('acme', 'e1', '2026-02-10T08:00:00Z', 'openai', 'm', 'default')`)
    const before = await db.query<{ id: number; key_hash: Buffer }>('select id, key_hash from usage_buckets order by id')
    const [rollupBefore] = await db.query<{ rollup: string; base: string }>(ROLLUP_VS_BASE)

    const applied = await migrate(db)
    // Later migrations (connections, the daily rollup) are pending too; the partitioning one runs first.
    t.match(applied[0], /_partition_by_month$/, 'the partitioning migration was the first pending')

    const placed = await db.query<{ part: string; n: number }>(
      `select tableoid::regclass::text as part, count(*)::int8 as n from usage_buckets group by 1 order by 1`,
    )
    t.same(placed, [{ part: 'usage_buckets_p202601', n: 47 }, { part: 'usage_buckets_p202602', n: 43 }], 'each month of data got its partition')
    t.same(await db.query(`select tableoid::regclass::text as part from usage_resources`), [{ part: 'usage_resources_p202603' }])
    t.same(await db.query(`select tableoid::regclass::text as part from usage_events`), [{ part: 'usage_events_p202602' }])
    t.same(await db.query('select id, key_hash from usage_buckets order by id'), before, 'ids and natural-key hashes unchanged')
    const [rollupAfter] = await db.query<{ rollup: string; base: string }>(ROLLUP_VS_BASE)
    t.equal(rollupAfter!.rollup, rollupBefore!.rollup, 'the rollup was not touched')
    t.equal(rollupAfter!.rollup, rollupAfter!.base, 'and equals the aggregate of the moved buckets')

    // The partitioned table owns the sequence (ids go on) and carries the rollup triggers (a new bucket counts).
    const [row] = await db.query<{ id: number }>(
      `insert into usage_buckets (tenant_id, provider, start_time, end_time, model, service_tier, source, input_tokens)
       values ('acme', 'openai', '2026-02-20T00:00:00Z', '2026-02-20T01:00:00Z', 'm0', 'default', 'api', 5) returning id`,
    )
    t.equal(row!.id, 91, 'the id sequence continues')
    const [rollupNew] = await db.query<{ rollup: string; base: string }>(ROLLUP_VS_BASE)
    t.equal(rollupNew!.rollup, rollupNew!.base, 'the rollup triggers fire on the partitioned table')
    const leftovers = await db.query(
      `select relname as name from pg_class where relname like '%\\_unpartitioned' union all select proname from pg_proc where proname = 'tokenledger_partition_table'`,
    )
    t.same(leftovers, [], 'no leftover table or helper function')
  }),
)
