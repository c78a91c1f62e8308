import { HOUR_MS } from '../time/instant.js'
import { WIDTH_SECONDS, type BucketWidth, type PageWindow } from './provider.js'

/**
 * The window a run pulls for one endpoint (contract v2 "Connections"): from floor(synced_until −
 * lag_hours) — or the start date when nothing is synced yet, and never before it — to ceil(now), on
 * the UTC grid of the bucket width. Re-pulling the lag picks up what the provider revised.
 */
export function syncWindow(p: {
  syncedUntil: string | null | undefined
  startDate: Date
  lagHours: number
  width: BucketWidth
  nowMs: number
  notBeforeMs?: number | undefined
  /** A re-pull asked for (`POST …/sync` with `from`): the window starts there when that is earlier, still not before the start date. */
  repullFromMs?: number | undefined
}): PageWindow | undefined {
  const step = WIDTH_SECONDS[p.width] * 1000
  const floor = (ms: number) => Math.floor(ms / step) * step
  // Never before the retention cutoff: those rows would be refused (their raw partitions are gone).
  const first = Math.max(floor(p.startDate.getTime()), p.notBeforeMs === undefined ? -Infinity : Math.ceil(p.notBeforeMs / step) * step)
  const synced = p.syncedUntil ? Math.max(first, floor(Date.parse(p.syncedUntil) - p.lagHours * HOUR_MS)) : first
  const from = p.repullFromMs === undefined ? synced : Math.min(synced, Math.max(first, floor(p.repullFromMs)))
  const to = Math.ceil(p.nowMs / step) * step
  return from < to ? { startMs: from, endMs: to, width: p.width } : undefined
}
