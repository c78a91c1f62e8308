import { ingestBilledCosts } from '../billing/ingest-billed-costs.js'
import type { BilledCostSink } from './cost-sink.js'

/** Pulled cost pages stored by the code behind `POST /v1/billing/costs`, with the request's declared group_by. */
export const billedCostSink: BilledCostSink = {
  ingest: (db, tenantId, page, opts) =>
    ingestBilledCosts(db, { tenantId, provider: opts.provider, ...(opts.accountId === null ? {} : { accountId: opts.accountId }), groupBy: opts.groupBy }, page),
}
