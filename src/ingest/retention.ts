import { retentionCutoff } from '../db/partitions.js'

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
