import t from 'tap'
import { maintainPartitions } from '../../src/db/partitions.js'
import { eachEngine, freshDb, holdLocks } from '../helpers.js'

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
    await new Promise((r) => setTimeout(r, 300))
    const started = Date.now()
    await db.query(`select count(*)::int8 as n from usage_buckets where tenant_id = $1`, [tenant])
    const waited = Date.now() - started
    t.ok(waited < 500, `a read of usage_buckets is served at once while maintenance waits for the rollup (${waited} ms)`)
    setTimeout(() => void vacuum.release(), 1_500)
    const outcome = await maintenance
    t.notOk(outcome instanceof Error, `maintenance succeeds (${outcome instanceof Error ? outcome.message : 'ok'})`)
    const [month] = await db.query<{ r: string | null }>(`select to_regclass('usage_buckets_p203405')::text as r`)
    t.equal(month!.r, 'usage_buckets_p203405', 'the month partition was created and kept')
  }),
)
