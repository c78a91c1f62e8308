import t from 'tap'
import { maintainPartitions } from '../../src/db/partitions.js'
import { eachEngine, freshDb, holdLocks, waitUntilBlocked } from '../helpers.js'

// Maintenance ends by analyzing usage_buckets and the rollups. Run inside its transaction, the ANALYZE
// held the ACCESS EXCLUSIVE lock a new (or dropped) month partition takes on usage_buckets for as long as
// it sampled every partition, so every tenant's reads and writes of usage waited for it; and when it could
// not get its own lock within the 1 s lock_timeout — a rollup being vacuumed or analyzed by autovacuum,
// frequent on tables every ingest updates — the whole transaction rolled back: no month was created, no
// retention applied, at every tick for as long as that lasted.
void t.test('partition maintenance is not undone, and does not hold usage_buckets, while a rollup is being vacuumed', (t) =>
  eachEngine(t, async (t, engine) => {
    const db = await freshDb(t, engine, 30_000)
    const tenant = 'analyzelock'
    await db.query('insert into tenants (id, name) values ($1, $1)', [tenant])
    const now = new Date('2034-05-10T00:00:00Z')
    if (engine === 'pglite') {
      // One statement at a time: no other session can hold a lock.
      const r = await maintainPartitions(db, { monthsAhead: 0 }, now)
      t.ok(r.created.includes('usage_buckets_p203405'))
      return
    }
    // What a (auto)vacuum or analyze of the daily rollup holds while it runs.
    const vacuum = await holdLocks(t, db, 'lock table usage_bucket_daily in share update exclusive mode')
    const maintenance = maintainPartitions(db, { monthsAhead: 0 }, now).then(
      (r) => r,
      (err: unknown) => err as Error,
    )
    // Maintenance has committed its months and its ANALYZE waits for the rollup's lock. (Seen, not slept
    // for: on a loaded machine it can take seconds to get there.)
    let settled = false
    void maintenance.finally(() => (settled = true))
    await waitUntilBlocked(db, { query: 'analyze usage_buckets%', pending: maintenance })
    // Served while the vacuum is held, before this test releases it: inside maintenance's transaction the
    // ANALYZE held usage_buckets, and a read waited until maintenance gave up. No clock here: a loaded
    // machine makes any read slow.
    await db.query(`select count(*)::int8 as n from usage_buckets where tenant_id = $1`, [tenant])
    t.notOk(settled, 'a read of usage_buckets is served while maintenance waits for the rollup')
    // Longer than maintenance's 1 s lock timeout, counted from a wait already seen: it applies to the
    // transaction only, never to the ANALYZE after it. (Released later on a slow machine: only a longer wait.)
    setTimeout(() => void vacuum.release(), 1_500)
    const outcome = await maintenance
    t.notOk(outcome instanceof Error, `maintenance succeeds (${outcome instanceof Error ? outcome.message : 'ok'})`)
    const [month] = await db.query<{ r: string | null }>(`select to_regclass('usage_buckets_p203405')::text as r`)
    t.equal(month!.r, 'usage_buckets_p203405', 'the month partition was created and kept')
  }),
)
