import { sql } from 'drizzle-orm'
import { naturalKeyHash, type BilledRow } from '../../src/billing/billed-row.js'
import type { DbClient } from '../../src/db/client.js'

/** A billed cost stored as an earlier server stored it, its key hashed from the row as sent (for migration tests). */
export async function storeBilled(db: DbClient, tenantId: string, r: BilledRow, amount: string): Promise<void> {
  await db.query(sql`insert into billed_costs (tenant_id, provider, account_id, start_time, end_time, project_id, api_key_id,
      line_item, model, token_type, cost_type, service_tier, batch, context_tier, inference_geo, amount, currency, shape, key_hash, source)
    values (${tenantId}, ${r.provider}, ${r.accountId}, ${new Date(r.startMs).toISOString()}::timestamptz, ${new Date(r.endMs).toISOString()}::timestamptz,
      ${r.projectId}, ${r.apiKeyId}, ${r.lineItem}, ${r.model}, ${r.tokenType}, ${r.costType}, ${r.serviceTier}, ${r.batch}, ${r.contextTier},
      ${r.inferenceGeo}, ${amount}, 'USD', '', ${naturalKeyHash(r)}, 'openai_api')`)
}

export interface BilledStored {
  provider: string
  account_id: string | null
  start_time: Date | string
  end_time: Date | string
  project_id: string | null
  api_key_id: string | null
  line_item: string | null
  model: string | null
  token_type: string | null
  cost_type: string | null
  service_tier: string | null
  batch: boolean | null
  context_tier: string | null
  inference_geo: string | null
  amount: string
  key_hash: Uint8Array
}

/** Every stored billed cost with its key, cheapest first. */
export const storedBilled = (db: DbClient) =>
  db.query<BilledStored>(`select provider, account_id, start_time, end_time, project_id, api_key_id, line_item, model,
      token_type, cost_type, service_tier, batch, context_tier, inference_geo, amount::text as amount, key_hash from billed_costs order by amount`)

/** The key the server computes for a stored row (`naturalKeyHash`): what a re-upload of it would meet. */
export const serverKeyOf = (c: BilledStored): Buffer => naturalKeyHash({
  startMs: new Date(c.start_time).getTime(), endMs: new Date(c.end_time).getTime(), provider: c.provider, accountId: c.account_id,
  projectId: c.project_id, userId: null, apiKeyId: c.api_key_id, model: c.model, serviceTier: c.service_tier!, batch: c.batch,
  contextTier: c.context_tier, inferenceGeo: c.inference_geo, present: 0, lineItem: c.line_item, tokenType: c.token_type, costType: c.cost_type,
  amount: c.amount, currency: 'USD', quantity: null, quantityUnit: null,
})
