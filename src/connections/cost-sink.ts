import type { Db } from '../db/client.js'

/**
 * Where pulled cost pages go: billed costs (contract v2 "Billed costs"), through the same code as
 * `POST /v1/billing/costs` (billed-cost-sink.ts, the default). An interface so the runner does not
 * depend on the billing module directly; without a sink, cost endpoints are skipped and their
 * `synced_until` stays null (nothing is marked synced that was not stored).
 */
export interface BilledCostSink {
  /** Stores one provider cost page (OpenAI `costs` or Anthropic `cost_report`) as the POST would; returns rows received. */
  ingest(db: Db, tenantId: string, page: unknown, opts: { provider: 'openai' | 'anthropic'; accountId: string | null; groupBy: readonly string[] }): Promise<{ received: number }>
}
