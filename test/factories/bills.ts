/**
 * Usage and bills for reconciliation tests of bill periods (test/reconciliation/bill-*.test.ts): hourly
 * gpt-4o-mini usage, OpenAI costs pages of one input line item, and the REST row fields those tests read.
 */

export const DAY = 1759276800 // 2025-10-01T00:00:00Z, a Wednesday
export const HOUR = 3600
export const D = 24 * HOUR
/** Midnight in Los Angeles (PDT) is 07:00Z: a Pacific day's bill runs 07:00Z to 07:00Z. */
export const PACIFIC = 7 * HOUR

/** An hourly usage bucket at `start` (unix seconds); gpt-4o-mini at list price: 1M input tokens = $0.15. */
export const hourOfUsage = (start: number, account?: string) => ({
  account_id: account, start_time: start, end_time: start + HOUR, model: 'gpt-4o-mini', input_tokens: 1_000_000, output_tokens: 0, num_model_requests: 1,
})

/** One bill: an OpenAI costs bucket from `start` to `end` of `value` dollars for gpt-4o-mini input. */
export const bucket = (start: number, end: number, value: string) => ({
  object: 'bucket',
  start_time: start,
  end_time: end,
  results: [{ object: 'organization.costs.result', amount: { value, currency: 'usd' }, line_item: 'gpt-4o-mini, input', project_id: null }],
})

export const page = (...data: ReturnType<typeof bucket>[]) => ({ object: 'page', data, has_more: false, next_page: null })

export const iso = (s: number) => new Date(s * 1000).toISOString()

/** The fields of a `GET /v1/reconciliation` row these tests read. */
export interface BillRow {
  window_start: string
  window_end: string
  account_id?: string | null
  computed: string | null
  billed: string | null
  status: string
}
