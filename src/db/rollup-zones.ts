import type { Db } from './client.js'
import { retentionCutoff } from './partitions.js'

/**
 * The zones the daily rollup (usage_bucket_daily) is kept for, stored in rollup_time_zones because its
 * trigger cannot read the environment (migration 0011). The server makes the list equal to 'UTC' plus
 * ROLLUP_TIME_ZONES at start-up: a zone added gets its rows from every stored bucket, a zone removed
 * loses its rows, each in the same transaction as the list, so a reader that sees a zone listed sees all
 * of its rows (src/usage/rollups.ts checks the list inside the usage statement).
 */

// Arbitrary constant shared by every tokenledger instance (the partition lock is 7_261_532_010), so two
// servers starting at once do not backfill the same zone twice.
export const ROLLUP_ZONES_LOCK_KEY = 7_261_532_011

export interface RollupZonesChange {
  added: string[]
  removed: string[]
  /**
   * Set when zones were added after retention had dropped raw months that the UTC daily rollup still
   * holds: the retention cutoff, the first instant the added zones' rows cover. A backfill reads the
   * raw buckets, so the added zones have no rows for those months (the UTC rows and the hourly rollup
   * keep them; nothing can recut them into another zone's local days).
   */
  coveredFrom?: Date
}

/**
 * Makes rollup_time_zones 'UTC' plus `zones`, backfilling added zones and deleting removed ones' rows.
 * `signal` (shutdown) cancels the statement in progress on PostgreSQL — a backfill, or a wait for the
 * locks — and the whole change rolls back: nothing of it stays, and the next start does it again.
 * PGlite cannot interrupt a statement; there it ends first. `now` dates the retention cutoff (tests pass
 * the instant their maintenance ran at, so a month turning mid-test cannot move it).
 */
export async function syncRollupTimeZones(
  db: Db,
  zones: readonly string[],
  signal?: AbortSignal,
  retentionMonths?: number,
  now = new Date(),
): Promise<RollupZonesChange> {
  const wanted = new Set(['UTC', ...zones])
  return db.transaction(async (inner) => {
    const tx = { query: <T>(text: string, params: unknown[] = []) => inner.query<T>(text, params, { signal }) }
    await tx.query('select pg_advisory_xact_lock($1)', [ROLLUP_ZONES_LOCK_KEY])
    // A backfill reads every stored bucket once: minutes at 10M, past the server's statement timeout.
    await tx.query('set local statement_timeout = 0')
    const listed = new Set((await tx.query<{ time_zone: string }>('select time_zone from rollup_time_zones')).map((r) => r.time_zone))
    const added = [...wanted].filter((z) => !listed.has(z)).sort()
    const removed = [...listed].filter((z) => !wanted.has(z)).sort()
    if (added.length === 0 && removed.length === 0) return { added, removed }
    const unknown = await tx.query<{ zone: string }>('select unnest($1::text[]) as zone except select name from pg_timezone_names', [added])
    if (unknown.length > 0) throw new Error(`ROLLUP_TIME_ZONES: zones this PostgreSQL does not know: ${unknown.map((u) => u.zone).sort().join(', ')}`)
    // Writers wait until this commits. A write committed before the backfill's snapshot is in it; one
    // after it finds the new zone listed and adds its own rows. Without the lock a write in flight could
    // do neither (its trigger read the list before the zone was added, its rows are not in the snapshot).
    await tx.query('lock table usage_buckets in share mode')
    if (removed.length > 0) {
      await tx.query('delete from usage_bucket_daily where time_zone = any($1::text[])', [removed])
      await tx.query('delete from rollup_time_zones where time_zone = any($1::text[])', [removed])
    }
    if (added.length > 0) {
      await tx.query('insert into rollup_time_zones (time_zone) select unnest($1::text[])', [added])
      await tx.query('select usage_bucket_daily_backfill($1::text[])', [added])
      const cutoff = retentionCutoff(retentionMonths, now)
      if (cutoff) {
        const [older] = await tx.query<{ any: boolean }>(`select exists (select 1 from usage_bucket_daily where time_zone = 'UTC' and day < $1) as any`, [cutoff])
        if (older?.any) return { added, removed, coveredFrom: cutoff }
      }
    }
    return { added, removed }
  })
}
