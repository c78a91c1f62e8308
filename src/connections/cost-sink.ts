import type { Db } from '../db/client.js'

/**
 * Where pulled cost pages go: billed costs (contract v2 "Billed costs"), through the same code as
 * `POST /v1/billing/costs`. That store is built on the `billing` branch; until it is wired in
 * (connections-plugin.ts), a connection's cost endpoints are skipped and their `synced_until` stays
 * null, so once wired they backfill from the start date and nothing is lost.
 */
export interface BilledCostSink {
  /** Stores one provider cost page (OpenAI `costs` or Anthropic `cost_report`) as the POST would; returns rows received. */
  ingest(db: Db, tenantId: string, page: unknown, opts: { provider: 'openai' | 'anthropic'; accountId: string | null; groupBy: readonly string[] }): Promise<{ received: number }>
}
