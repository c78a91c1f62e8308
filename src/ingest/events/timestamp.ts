import { toDate } from '../../time/instant.js'

/** An event's `timestamp` → Date, or undefined; the one instant parser decides (src/time/instant.ts). */
export function parseTimestamp(v: string | number): Date | undefined {
  return toDate(v)
}
