/**
 * One result of OpenAI's costs page (`organization.costs.result`), as both cost sources write it: the
 * costs computed from the ledger (src/usage/report/cost-results.ts) and the costs the provider billed
 * (./billed-report.ts). It lives here, below both, because the usage report imports billing.
 */
export interface CostsResult {
  object: 'organization.costs.result'
  amount: { value: number | null; value_exact: string | null; currency: string }
  line_item: string | null
  project_id: string | null
  api_key_id: string | null
  /** null when the result mixes units (tokens and a resource, or two resources). */
  quantity: number | null
  quantity_exact: string | null
  quantity_unit: string | null
  complete: boolean
  unpriced_tokens: number
}
