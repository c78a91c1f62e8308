import type { NormalisedBucket } from './bucket.js'

/**
 * The overlap rule in memory, for requests whose rows are all in memory (the JSON forms): within
 * provider/account, buckets may overlap in time only with the same (start, end) and the same null
 * dimensions. The stored side is checked in SQL (src/db/queries/buckets.ts, `conflictProbe`).
 */

/** Which of the nullable dimensions are null (same bits as NULL_MASK in SQL). */
export function nullMask(b: NormalisedBucket): number {
  return (
    (b.projectId === null ? 1 : 0) +
    (b.userId === null ? 2 : 0) +
    (b.apiKeyId === null ? 4 : 0) +
    (b.model === null ? 8 : 0) +
    (b.batch === null ? 16 : 0)
  )
}

/** One distinct (provider, account, start, end, null mask) among a request's rows. */
export interface BucketShape {
  provider: string
  accountId: string | null
  startMs: number
  endMs: number
  mask: number
  /**
   * False when the shape starts exactly where the previous one (same account) ends: anything stored
   * across its start would also overlap that previous shape, so one probe backwards per run suffices.
   */
  leads: boolean
}

export interface ShapeCheck {
  /** The distinct shapes, to be checked against stored buckets. */
  shapes: BucketShape[]
  /** True when two of the rows already break the rule among themselves. */
  overlapping: boolean
}

/** Collects the distinct shapes and checks the rows against each other: O(n log n). */
export function checkShapes(rows: readonly NormalisedBucket[]): ShapeCheck {
  const byAccount = new Map<string, Map<string, BucketShape>>()
  for (const b of rows) {
    const account = `${b.provider.length}:${b.provider}${b.accountId === null ? '\u0000' : `:${b.accountId}`}`
    let shapes = byAccount.get(account)
    if (!shapes) byAccount.set(account, (shapes = new Map()))
    const mask = nullMask(b)
    const key = `${b.startMs}/${b.endMs}/${mask}`
    if (!shapes.has(key)) shapes.set(key, { provider: b.provider, accountId: b.accountId, startMs: b.startMs, endMs: b.endMs, mask, leads: true })
  }
  const all: BucketShape[] = []
  let overlapping = false
  for (const shapes of byAccount.values()) {
    const sorted = [...shapes.values()].sort((a, b) => a.startMs - b.startMs || a.endMs - b.endMs || a.mask - b.mask)
    let maxEnd = -Infinity
    for (const s of sorted) {
      // Sorted by start: s overlaps an earlier shape iff it starts before their latest end; that is
      // allowed only for the very same shape, and shapes are distinct here.
      if (s.startMs < maxEnd) overlapping = true
      s.leads = s.startMs !== maxEnd
      maxEnd = Math.max(maxEnd, s.endMs)
      all.push(s)
    }
  }
  return { shapes: all, overlapping }
}
