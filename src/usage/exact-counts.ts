import { isNumericOutOfRange } from '../db/errors.js'
import { problems } from '../errors.js'

/**
 * Counts leave the ledger as JSON numbers (OpenAI's format, GraphQL's Long), exact only up to 2^53 − 1.
 * Each stored counter is within that bound, but a sum of them need not be: a result holding a larger
 * count is refused as a whole (`problems.countOutOfRange`, 422) before anything is sent, never rounded
 * and never cut off mid-response.
 */

/** The counters of a usage result's rows and totals, as `withGroupedSql` names them. */
export const COUNT_COLUMNS = ['requests', 'input_tokens', 'output_tokens', 'cached_input_tokens', 'uncached_input_tokens', 'cache_write_tokens', 'cache_write_1h_tokens', 'unpriced_tokens'] as const

/** Throws the 422 problem when a count (as the driver or JSON.parse gave it) is not an exact JSON integer. */
export function assertExactCounts(counts: readonly unknown[]): void {
  for (const c of counts) if (c !== null && c !== undefined && !Number.isSafeInteger(Number(c))) throw problems.countOutOfRange()
}

/**
 * The database's numeric_value_out_of_range (a sum past int8, 2^63 − 1, when cast for output) as the
 * same 422 problem; any other error unchanged.
 */
export function countRangeError(err: unknown): unknown {
  return isNumericOutOfRange(err) ? problems.countOutOfRange() : err
}
