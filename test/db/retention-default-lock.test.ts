import t from 'tap'
import { maintainPartitions, type MaintenanceResult } from '../../src/db/partitions.js'
import { eachEngine, freshDb, holdLocks, waitUntilBlocked } from '../helpers.js'

// Months older than the partitions maintenance creates (history imported before the server first ran, a
// backfill) live in the default partition, and retention deletes them from it by name. A bucket write takes
// the partitioned table's ROW EXCLUSIVE lock and then checks its rows against the retention cutoff
// (retentionMovedUnderLock): a DROP of a month's partition waits for it, but that DELETE did not, so a write
// whose check passed just before the 1st could store rows of a month the DELETE had just removed — which the
// rollups, keeping the deleted rows, then counted twice. Retention now takes the table's SHARE lock before
// the DELETE: it waits for such a write to commit, and a write that comes after waits for retention.
void t.test('retention waits for a bucket write in flight before it deletes the default partition’s old rows', (t) =>
  eachEngine(t, async (t, engine) => {
    const db = await freshDb(t, engine, 30_000)
    await db.query(`insert into tenants (id, name) values ('old', 'old')`)
    // The earliest month with a partition; three months before it live in the default partition. Retention
    // of one month at that month's start keeps every partition and deletes the older rows from the default.
    const [{ first }] = (await db.query<{ first: string }>(
      `select min(substring(relname from '_p([0-9]{6})$')) as first from pg_class where relname ~ '^usage_buckets_p[0-9]{6}$'`,
    )) as [{ first: string }]
    const now = new Date(Date.UTC(Number(first.slice(0, 4)), Number(first.slice(4)) - 1, 1))
    const old = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 3, 10))
    await db.query(
      `insert into usage_buckets (tenant_id, provider, start_time, end_time, model, service_tier, source, input_tokens, num_model_requests)
       values ('old', 'openai', $1, $2, 'gpt-4o', 'default', 'api', 10, 1)`,
      [old.toISOString(), new Date(old.getTime() + 3600_000).toISOString()],
    )
    const stored = async () => (await db.query<{ part: string }>(`select tableoid::regclass::text as part from usage_buckets where tenant_id = 'old'`)).map((r) => r.part)
    t.same(await stored(), ['usage_buckets_default'], 'the old month is in the default partition')
    const policy = { monthsAhead: 0, retentionMonths: 1 }
    if (engine === 'postgres') {
      // Maintenance gives up on a lock after 1 s (PARTITION_LOCK_TIMEOUT_MS). The write is released as soon
      // as retention is seen waiting for it, but a loaded machine can stall this process (or the holder's
      // COMMIT) past that second: maintenance then fails with lock_not_available and rolls back, and the
      // attempt is made again. Only an attempt that waited and then succeeded passes.
      let r: MaintenanceResult | Error | undefined
      for (let attempt = 1; attempt <= 5; attempt++) {
        // A write past its retention check: the lock it holds until it commits.
        const write = await holdLocks(t, db, 'lock table only usage_buckets in row exclusive mode')
        const maintenance = maintainPartitions(db, policy, now).then((r) => r, (err: unknown) => err as Error)
        // Retention waits while the write is open (this polls pg_stat_activity; a read of usage_buckets
        // meanwhile would queue behind maintenance's lock request).
        await waitUntilBlocked(db, { query: 'lock table only "usage_buckets" in share mode', pending: maintenance })
        await write.release()
        r = await maintenance
        if (!(r instanceof Error && (r as Error & { code?: string }).code === '55P03')) break
        t.comment(`attempt ${attempt}: the write was released after maintenance's lock timeout (a loaded machine); again`)
      }
      t.notOk(r instanceof Error, `maintenance succeeded (${r instanceof Error ? r.message : 'ok'})`)
      t.same(r instanceof Error ? undefined : [r?.dropped, r?.defaultRowsDeleted], [[], 1], 'then it deletes the row, dropping no partition')
    } else {
      // One statement at a time: nothing can be in flight; retention deletes the row.
      t.equal((await maintainPartitions(db, policy, now)).defaultRowsDeleted, 1)
    }
    t.same(await stored(), [], 'the old month is gone')
  }),
)
