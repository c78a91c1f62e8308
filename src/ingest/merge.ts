import { ProblemList } from '../errors.js'
import { naturalKey, type NormalisedBucket } from './bucket.js'
import { TOKEN_CLASS_KEYS } from './token-classes.js'
import { Turns } from './turns.js'
import { MAX_COUNTER } from './values.js'

export interface IndexedBucket {
  index: number
  bucket: NormalisedBucket
}

export interface MergedRows {
  /** One row per natural key, in order of first appearance, indexed by its first row. */
  rows: IndexedBucket[]
  /** Keys whose summed counters exceed 2^53 − 1. */
  problems: ProblemList
}

const add = (a: number | null, b: number | null): number | null => (a === null ? b : b === null ? a : a + b)

/**
 * Sums in-memory rows that share a natural key (SQL `sum` semantics: null requests stay null only if
 * every part is null), and ORs the dimensions they report (`present`, as CSV's `bit_or`). For the JSON
 * forms, whose rows are in memory anyway; CSV sums in SQL.
 */
export async function mergeRows(rows: readonly IndexedBucket[]): Promise<MergedRows> {
  const turns = new Turns()
  const byKey = new Map<string, IndexedBucket>()
  for (const row of rows) {
    if (turns.due()) await turns.take()
    const key = naturalKey(row.bucket)
    const first = byKey.get(key)
    if (!first) {
      byKey.set(key, row)
      continue
    }
    const a = first.bucket.classes
    const b = row.bucket.classes
    const classes = { ...a, requests: add(a.requests, b.requests) }
    for (const k of TOKEN_CLASS_KEYS) classes[k] = a[k] + b[k]
    // The shape is what any part reports: a part with tier "default" beside one with none is one key
    // (the tier is normalised) but reports the tier. Kept from the first part only, a page's shape was
    // narrower than the same rows' as a CSV (summed in SQL over every part): the two forms of one report 409'd.
    byKey.set(key, { index: first.index, bucket: { ...first.bucket, classes, present: first.bucket.present | row.bucket.present } })
  }
  const merged = [...byKey.values()]
  const problems = new ProblemList()
  for (const { index, bucket } of merged) {
    const c = bucket.classes
    // Each part is ≤ 2^53 − 1, so an inexact float sum still lands above the limit.
    if ((c.requests ?? 0) > MAX_COUNTER || TOKEN_CLASS_KEYS.some((k) => c[k] > MAX_COUNTER))
      problems.push({ index, path: '', message: 'the sum of the rows sharing this natural key exceeds 2^53 − 1' })
  }
  return { rows: merged, problems }
}
