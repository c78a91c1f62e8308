import { Readable } from 'node:stream'
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { getTenant } from '../../db/queries/tenants.js'
import type { Dimension } from '../../usage/dimensions.js'
import type { ExportGate } from '../../usage/export-gate.js'
import type { TenantGate } from '../../usage/tenant-gate.js'
import { billedCostsCsv, billedCostsPage } from '../../usage/report/billed-costs.js'
import { disconnectSignal } from '../../http/disconnect-signal.js'
import { COSTS_LIMITS, USAGE_LIMITS } from '../../usage/report/buckets.js'
import { costsCsvLines, costsResults, COSTS_CSV_COLUMNS } from '../../usage/report/cost-results.js'
import { sendCsv, wantsCsv } from './csv.js'
import { CostsQuerySchema, normaliseArrayParams, UsageQuerySchema, type CostsQuery, type UsageQuery } from './params.js'
import { reportContext } from './report-request.js'
import { allPages, firstPage, type ReportRequest } from '../../usage/report/report.js'
import { sendPage } from './json-page.js'
import { CostsPageSchema, reportResponses as responses, UsagePageSchema } from './schemas.js'
import resourceUsageRoutes from './resource-usage.js'
import tokenUsageRoutes from './token-usage.js'
import { completionsResult, exportRequest, usageCsvLines, USAGE_CSV_COLUMNS } from '../../usage/report/usage-results.js'

export interface OpenAIUsageOptions {
  /** Upper bound on windows × groups one query may produce (MAX_RESULT_CELLS). */
  maxGroups: number
  /** The per-tenant share of expensive queries. */
  gate?: TenantGate | undefined
  /** The server's share of the pool for streamed reads (every report here is one). */
  exportGate?: ExportGate | undefined
}

const USAGE_DIMENSIONS: Record<NonNullable<UsageQuery['group_by']>[number], Dimension> = {
  project_id: 'PROJECT',
  user_id: 'USER',
  api_key_id: 'API_KEY',
  model: 'MODEL',
  batch: 'BATCH',
  service_tier: 'SERVICE_TIER',
  context_tier: 'CONTEXT_TIER',
  inference_geo: 'INFERENCE_GEO',
}

/** A line item is named by the keys that decide its rate, and by its resource. */
const COSTS_DIMENSIONS: Record<NonNullable<CostsQuery['group_by']>[number], Dimension[]> = {
  project_id: ['PROJECT'],
  api_key_id: ['API_KEY'],
  line_item: ['MODEL', 'SERVICE_TIER', 'BATCH', 'RESOURCE'],
}

/**
 * OpenAI's admin usage and costs endpoints at OpenAI's paths, so OpenAI's SDKs work against
 * tokenledger by changing the base URL. Both run on the shared usage query layer and pricing.
 */
const openaiUsageRoutes: FastifyPluginAsyncZod<OpenAIUsageOptions> = async (app, opts) => {
  app.addHook('onRequest', app.auth.tenant('read'))
  app.addHook('preValidation', normaliseArrayParams)

  for (const [url, operationId] of [
    ['/organization/usage/completions', 'getCompletionsUsage'],
    ['/usage', 'getUsage'],
  ] as const) {
    app.get(
      url,
      {
        schema: {
          tags: ['reports'],
          operationId,
          summary:
            url === '/usage'
              ? 'Alias of GET /v1/organization/usage/completions'
              : 'Completions usage in OpenAI’s page shape, priced (OpenAI-compatible)',
          description:
            'OpenAI’s parameters, defaults and limits. Array parameters accept repeated, `name[]=`, `name[0]=` and ' +
            'comma-separated forms. Extensions: `group_by` `context_tier` / `inference_geo` (result fields, null unless grouped by) and ' +
            'the filters `context_tiers` / `inference_geos`. Each result adds `cost` (exact in `value_exact`). With `Accept: text/csv` the ' +
            'whole range (from `start_time`, or the `page` cursor, to `end_time`; `limit` does not apply) is streamed in ' +
            'the dashboard export’s columns plus `provider` and `account_id` (grouped by: one row per provider account), re-ingestable by POST /v1/usage/buckets.',
          querystring: UsageQuerySchema,
          response: responses(UsagePageSchema, 'Usage buckets'),
        },
      },
      async (req, reply) => {
        const q = req.query
        const r: ReportRequest = {
          ...reportContext(req, reply, opts, q),
          limits: USAGE_LIMITS[q.bucket_width],
          groupBy: [...new Set(q.group_by ?? [])].map((g) => USAGE_DIMENSIONS[g]),
          // Embeddings and moderations have their own endpoints (v2 usage types).
          filter: {
            projectIds: q.project_ids, userIds: q.user_ids, apiKeyIds: q.api_key_ids, models: q.models, batch: q.batch,
            contextTiers: q.context_tiers, inferenceGeos: q.inference_geos, usageTypes: ['completions'],
          },
          // The per-modality counters need each class's tokens, not its cost.
          classes: 'tokens',
        }
        if (wantsCsv(req.headers.accept))
          // Grouped by provider and account too, which the file carries, so it re-ingests to the same rows.
          return sendCsv(reply, USAGE_CSV_COLUMNS, await allPages(app.db, exportRequest(r)), (b, p) => usageCsvLines(b, p.currency), 'completions_usage.csv')
        const page = await firstPage(app.db, r)
        return sendPage(reply, page, (b) => b.rows.map((row) => completionsResult(row, page.currency)))
      },
    )
  }

  for (const [url, operationId] of [
    ['/organization/costs', 'getCosts'],
    ['/costs', 'getCostsAlias'],
  ] as const) {
    app.get(
      url,
      {
        schema: {
          tags: ['reports'],
          operationId,
          summary: url === '/costs' ? 'Alias of GET /v1/organization/costs' : 'Daily costs in OpenAI’s page shape (OpenAI-compatible)',
          description:
            '`group_by=line_item` splits each day by model and token class (`"<model>, input"`, `"<model>, cached input"`, ' +
            '`"<model>, output audio"`, `"<model>, cache write 1h"`, … with `, <tier>` / `, batch` where not default); tokens no rate prices appear as ' +
            '`"<model>, unpriced"` with `amount.value: null`. Resources are `"<model>, <resource>"` (the resource alone without a model; ' +
            'unpriced quantity as `"…, <resource>, unpriced"`), `quantity_unit` as OpenAI’s (`images`, `characters`, `duration_seconds`, ' +
            '`gibibyte_hours`, else the resource); `quantity_exact` is exact; a result mixing units has `quantity: null`. ' +
            '`amount.value` is a JSON number, exact in `value_exact`. ' +
            'With `Accept: text/csv` the whole range is streamed in the cost export’s columns.',
          querystring: CostsQuerySchema,
          response: responses(CostsPageSchema, 'Cost buckets'),
        },
      },
      async (req, reply) => {
        const q = req.query
        if (q.cost_source === 'billed') {
          const billed = { tenantId: req.tenantId, query: q, signal: disconnectSignal(reply) }
          if (!wantsCsv(req.headers.accept)) return billedCostsPage(app.db, billed)
          const csv = billedCostsCsv(app.db, billed)
          return reply.type('text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="costs.csv"').send(Readable.from(csv))
        }
        const groupBy = [...new Set(q.group_by ?? [])]
        const byLineItem = groupBy.includes('line_item')
        const r: ReportRequest = {
          ...reportContext(req, reply, opts, q),
          limits: COSTS_LIMITS,
          // Always by resource: a result's quantity is in one unit, or null when it mixes units.
          groupBy: [...new Set([...groupBy.flatMap((g) => COSTS_DIMENSIONS[g]), 'RESOURCE' as const])],
          filter: { projectIds: q.project_ids, apiKeyIds: q.api_key_ids },
          classes: byLineItem,
        }
        if (wantsCsv(req.headers.accept)) {
          // Read before the report is opened: an open report holds a statement until it is sent.
          const tenant = await getTenant(app.db, req.tenantId)
          const report = await allPages(app.db, r)
          const org = { id: req.tenantId, name: tenant?.name ?? req.tenantId }
          return sendCsv(reply, COSTS_CSV_COLUMNS, report, (b, p) => costsCsvLines(b, p.currency, byLineItem, org), 'costs.csv')
        }
        const page = await firstPage(app.db, r)
        return sendPage(reply, page, (b) => costsResults(b, page.currency, byLineItem))
      },
    )
  }

  // Not `opts`: it carries the `/v1` prefix, which the children inherit already.
  const shared = { maxGroups: opts.maxGroups, gate: opts.gate, exportGate: opts.exportGate }
  await app.register(tokenUsageRoutes, shared)
  await app.register(resourceUsageRoutes, shared)
}

export default openaiUsageRoutes
