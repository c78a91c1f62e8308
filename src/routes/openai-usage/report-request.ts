import type { FastifyReply, FastifyRequest } from 'fastify'
import { disconnectSignal } from '../../http/disconnect-signal.js'
import { BUCKET_WIDTHS, type BucketWidth } from '../../usage/report/buckets.js'
import type { ReportRequest } from '../../usage/report/report.js'
import type { OpenAIUsageOptions } from './index.js'

/**
 * The HTTP half of a mirror's report request, the same for every endpoint: the tenant, the validated
 * query and its bucket width, the windows × groups bound, the tenant's query slot, the server's export
 * slots, and cancellation when the client goes away. Each route adds what is its own (limits, grouping,
 * filter, classes).
 */
export function reportContext<Q extends ReportRequest['query'] & { bucket_width: BucketWidth }>(
  req: FastifyRequest,
  reply: FastifyReply,
  opts: OpenAIUsageOptions,
  query: Q,
) {
  return { tenantId: req.tenantId, query, width: BUCKET_WIDTHS[query.bucket_width], maxGroups: opts.maxGroups, gate: opts.gate, exportGate: opts.exportGate, signal: disconnectSignal(reply) }
}
