import { retentionCutoff } from '../db/partitions.js'
import type { Db } from '../db/client.js'

/**
 * Rows that start before the retention cutoff are refused on every write path. Retention drops their
 * month's raw partitions by name, which leaves the hourly rollups holding those hours (by design:
 * rollups outlive raw rows), so a re-import would be stored again and added to the rollup — counted
 * twice. The cutoff is src/db/partitions.ts's `retentionCutoff`, the one retention itself uses.
 */
export interface RetentionGuard {
  months: number
  cutoff: Date
}

/** The guard for RETENTION_MONTHS at `now`; undefined when raw rows are kept forever. */
export function retentionGuard(months: number | undefined, now = new Date()): RetentionGuard | undefined {
  const cutoff = retentionCutoff(months, now)
  return months === undefined || !cutoff ? undefined : { months, cutoff }
}

/** Why a row starting at `startMs` is refused, or undefined when it may be written. */
export function beforeRetention(guard: RetentionGuard | undefined, startMs: number, what = 'starts'): string | undefined {
  if (!guard || startMs >= guard.cutoff.getTime()) return undefined
  return (
    `${what} ${new Date(startMs).toISOString()}, before the retention cutoff ${guard.cutoff.toISOString()} ` +
    `(RETENTION_MONTHS=${guard.months}): raw rows of that time are dropped while the hourly rollups keep them, ` +
    'so writing them again would count them twice'
  )
}

/**
 * Called inside a write transaction before its rows are written: holds off retention, then says whether
 * its cutoff moved since `guard` was taken (the guard as of now, else undefined).
 *
 * A request takes its guard when it starts, but writes later — after spooling a CSV upload, parsing a
 * page set, waiting for its accounts' locks. When the 1st of a month passed meanwhile and maintenance
 * dropped the month that just fell out, rows of that month passed the old guard and were written to the
 * default partition: the rollups, which keep the dropped rows, counted a re-import twice (the next
 * maintenance deletes the default's copy by name, leaving the rollups doubled). The lock is the one the
 * writes take anyway (ROW EXCLUSIVE, no conflict with other writers) on the partitioned tables alone;
 * it conflicts with the ACCESS EXCLUSIVE lock a partition's DROP takes on them, and with the SHARE lock
 * retention takes before it deletes old rows from a default partition (src/db/partitions.ts `retain`), so
 * a drop or delete committed before it is seen by the clock read after it, and none can commit until this
 * transaction does.
 * Maintenance reads the clock when its run starts, so under one clock a dropped month always lies before
 * the cutoff returned here (instances whose clocks differ by more than the time a request takes are not
 * covered).
 */
export async function retentionMovedUnderLock(tx: Db, guard: RetentionGuard | undefined): Promise<RetentionGuard | undefined> {
  if (!guard) return undefined
  await tx.query('lock table only usage_buckets, only usage_resources in row exclusive mode')
  const now = retentionGuard(guard.months)
  return now && now.cutoff > guard.cutoff ? now : undefined
}
