import { Readable } from 'node:stream'
import type { FastifyReply } from 'fastify'
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { UsageInputError } from '../../errors.js'
import { disconnectSignal } from '../../http/disconnect-signal.js'
import { queryReconciliationPage, queryReconciliationRows } from '../../reconciliation/reconciliation-service.js'
import type { ReconArgs, ReconDimension, ReconRow } from '../../reconciliation/recon-types.js'
import { FILTER_PARAMS, filterFromParams } from '../../usage/dimensions.js'
import type { TenantGate } from '../../usage/tenant-gate.js'
import { MAX_PAGE_SIZE, type UsageLimits } from '../../usage/usage-service.js'
import { csvLine } from '../../usage/report/csv-lines.js'
import { wantsCsv } from '../openai-usage/csv.js'
import { normaliseArrayParams } from '../openai-usage/params.js'
import { problemResponses } from '../shared-schemas.js'
import { RECON_CSV_COLUMNS, ReconPageSchema, ReconQuerySchema, type ReconQuery } from './schemas.js'

/** GraphQL argument names in UsageInputError → the REST parameter they come from. */
const REST_FIELD: Record<string, string> = {
  groupBy: 'group_by',
  rateCard: 'rate_card',
  pricingAsOf: 'pricing_as_of',
  ...Object.fromEntries(Object.entries(FILTER_PARAMS).map(([rest, field]) => [`filter.${field}`, rest])),
}

const snake = (r: ReconRow) => ({
  window_start: r.windowStart.toISOString(),
  window_end: r.windowEnd.toISOString(),
  provider: r.provider,
  account_id: r.accountId,
  project_id: r.projectId,
  api_key_id: r.apiKeyId,
  model: r.model,
  line_item: r.lineItem,
  computed: r.computed,
  billed: r.billed,
  difference: r.difference,
  status: r.status,
  unpriced_tokens: r.unpricedTokens,
  billed_unit_price: r.billedUnitPrice,
  card_unit_price: r.cardUnitPrice,
  complete: r.complete,
})

function argsOf(tenantId: string, q: ReconQuery): ReconArgs {
  return {
    tenantId,
    from: q.from,
    to: q.to,
    window: q.window.toUpperCase(),
    groupBy: [...new Set(q.group_by)].map((d) => d.toUpperCase() as ReconDimension),
    filter: filterFromParams(q),
    rateCard: q.rate_card,
    pricingAsOf: q.pricing_as_of,
    tolerance: q.tolerance,
    first: q.first,
    after: q.after,
  }
}

/** Runs the shared reconciliation; its argument errors are named by their REST parameter. */
async function page<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run()
  } catch (err) {
    if (!(err instanceof UsageInputError)) throw err
    throw err.inQuery(REST_FIELD)
  }
}

function streamCsv(reply: FastifyReply, sources: string[], body: AsyncGenerator<string>) {
  return reply
    .type('text/csv; charset=utf-8')
    .header('content-disposition', 'attachment; filename="reconciliation.csv"')
    .header('x-usage-sources', sources.join(','))
    .send(Readable.from(body))
}

const reconciliationRoutes: FastifyPluginAsyncZod<{ maxGroups: number; gate?: TenantGate | undefined }> = async (app, opts) => {
  app.get(
    '/reconciliation',
    {
      onRequest: app.auth.tenant('read'),
      preValidation: normaliseArrayParams,
      schema: {
        tags: ['billing'],
        operationId: 'getReconciliation',
        summary: 'Computed cost beside billed cost, per UTC window and dimension, with a status per row',
        description:
          'The REST face of GraphQL `reconciliation` (same parameters in snake_case, same rows). Statuses, first that applies: ' +
          'BILLED_ONLY, COMPUTED_ONLY, UNPRICED, MATCH (|computed − billed| ≤ tolerance), MISMATCH. With `Accept: text/csv` every ' +
          'row of the range is streamed (`first`/`after` do not apply).',
        querystring: ReconQuerySchema,
        response: {
          200: { description: 'A page of rows, or the whole range as CSV', content: { 'application/json': { schema: ReconPageSchema }, 'text/csv': { schema: z.string() } } },
          ...problemResponses(400, 401, 403, 422, 503),
        },
      },
    },
    async (req, reply) => {
      const limits: UsageLimits = { maxGroups: opts.maxGroups, gate: opts.gate, signal: disconnectSignal(reply) }
      const args = argsOf(req.tenantId, req.query)
      if (wantsCsv(req.headers.accept)) {
        // Read whole before anything is sent, so bad parameters are still a 400.
        const all = await page(() => queryReconciliationRows(app.db, args, limits))
        const body = async function* () {
          yield csvLine([...RECON_CSV_COLUMNS])
          for (let i = 0; i < all.rows.length; i += MAX_PAGE_SIZE) yield all.rows.slice(i, i + MAX_PAGE_SIZE).map((r) => csvLine(Object.values(snake(r)))).join('')
        }
        return streamCsv(reply, all.sources, body())
      }
      const result = await page(() => queryReconciliationPage(app.db, args, limits))
      return {
        object: 'page' as const,
        data: result.rows.map(snake),
        totals: { computed: result.totals.computed, billed: result.totals.billed, difference: result.totals.difference, unpriced_tokens: result.totals.unpricedTokens, complete: result.totals.complete },
        has_more: result.hasNextPage,
        next_page: result.hasNextPage ? result.endCursor : null,
        sources: result.sources,
        pricing_as_of: result.pricingAsOf.toISOString(),
      }
    },
  )
}

export default reconciliationRoutes
