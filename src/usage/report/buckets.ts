import type { ProblemItem } from '../../errors.js'
import { pricingInstant } from '../../pricing/as-of.js'
import { decodeCursor, encodeCursor, isInstantMs, queryHash } from '../../pagination/cursor.js'

/**
 * OpenAI's bucket arithmetic: buckets are UTC-aligned to their width, except that the first one starts
 * exactly at `start_time` (the cookbook's real output starts mid-day and ends at midnight) and the last
 * one ends at `end_time`. A page is `limit` consecutive buckets, empty ones included.
 */

export const BUCKET_WIDTHS = { '1m': 60, '1h': 3600, '1d': 86_400 } as const
export type BucketWidth = keyof typeof BUCKET_WIDTHS

/** OpenAI's page sizes in buckets: [default, max] per width. */
export const USAGE_LIMITS: Record<BucketWidth, [number, number]> = { '1d': [7, 31], '1h': [24, 168], '1m': [60, 1440] }
export const COSTS_LIMITS: [number, number] = [7, 180]

export interface Bucket {
  start: number
  end: number
}

export interface RangeParams {
  start_time: number
  end_time?: number | undefined
  page?: string | undefined
  limit?: number | undefined
  pricing_as_of?: Date | undefined
}

export interface Plan {
  /** First bucket of this request (start_time, or where the cursor left off). */
  start: number
  /** Exclusive end of the whole range. */
  end: number
  width: number
  /** Buckets per page. */
  limit: number
  /** Every page of one listing is priced as of the first page's instant. */
  asOf: Date
  hash: string
  /** The read-ahead snapshot the cursor names (report.ts): the rows of this page may already be held. */
  snapshot?: string | undefined
}

function nextBoundary(t: number, width: number): number {
  return Math.floor(t / width) * width + width
}

/** Up to `count` buckets from `start`, and where the next page would start (null at the end). */
export function bucketsFrom(start: number, end: number, width: number, count: number): { buckets: Bucket[]; next: number | null } {
  const buckets: Bucket[] = []
  let s = start
  while (buckets.length < count && s < end) {
    const e = Math.min(nextBoundary(s, width), end)
    buckets.push({ start: s, end: e })
    s = e
  }
  return { buckets, next: s < end ? s : null }
}

/** How many buckets [start, end) holds: the first from `start` to its width's next boundary, then whole ones. */
export function bucketCount(start: number, end: number, width: number): number {
  return end > start ? Math.ceil((end - Math.floor(start / width) * width) / width) : 0
}

/** Binds a cursor to the query it came from (every parameter except `page` and `limit`). */
export function paramsHash(query: Record<string, unknown>): string {
  return queryHash(query, ['page', 'limit'])
}

/** `snapshot`: the id of the rows read ahead for the later pages, when the first page kept them. */
export function encodePage(start: number, asOf: Date, hash: string, snapshot?: string): string {
  return encodeCursor({ s: start, a: asOf.getTime(), h: hash, ...(snapshot ? { n: snapshot } : {}) }, 'page_')
}

export function decodePage(page: string, hash: string): { start: number; asOf: Date; snapshot?: string } | undefined {
  const v = decodeCursor(page, 'page_')
  // The hash is computable by anyone: a forged cursor must still carry instants a Date can hold. A forged
  // snapshot id finds nothing (ids are random and bound to their tenant and query): the page is read anew.
  if (!v || !isInstantMs(v.s, 1000) || !isInstantMs(v.a) || v.h !== hash) return undefined
  const snapshot = typeof v.n === 'string' && v.n.length <= 64 ? v.n : undefined
  return { start: v.s, asOf: new Date(v.a), ...(snapshot ? { snapshot } : {}) }
}

/** Checks the range parameters against each other; lists every problem found. */
export function planRange(
  q: RangeParams,
  hash: string,
  width: number,
  limits: [number, number],
  now: Date,
): { plan?: Plan; problems: ProblemItem[] } {
  const problems: ProblemItem[] = []
  const [defaultLimit, maxLimit] = limits
  if (q.limit !== undefined && q.limit > maxLimit)
    problems.push({ path: 'querystring.limit', message: `must be at most ${maxLimit} for this bucket_width` })
  if (q.end_time !== undefined && q.end_time <= q.start_time)
    problems.push({ path: 'querystring.end_time', message: 'must be later than start_time' })
  let end = q.end_time ?? nextBoundary(Math.floor(now.getTime() / 1000), width)
  let start = q.start_time
  let asOf = pricingInstant(q.pricing_as_of, now)
  let snapshot: string | undefined
  if (q.page !== undefined) {
    const cursor = decodePage(q.page, hash)
    // Every next_page starts on the bucket grid; one off it is forged, and was answered two ways: from held rows
    // (whose windows start on the grid) its first bucket was empty, read anew it held that part of the day.
    // Without end_time the range ends where the bucket after now starts, which only moves later: a cursor past it
    // was never handed out (it was an empty 200 page, where with end_time it is this 400). One AT it is taken, as
    // that bucket: another instance whose clock is slightly ahead may have handed it out.
    const last = q.end_time ?? end + width
    if (!cursor || cursor.start < q.start_time || cursor.start >= last || cursor.start % width !== 0)
      problems.push({ path: 'querystring.page', message: 'is not a next_page cursor of this query; start again without `page`' })
    else {
      if (cursor.start >= end) end = cursor.start + width
      start = cursor.start
      asOf = cursor.asOf
      snapshot = cursor.snapshot
    }
  }
  if (problems.length) return { problems }
  return { plan: { start, end, width, limit: q.limit ?? defaultLimit, asOf, hash, snapshot }, problems }
}
