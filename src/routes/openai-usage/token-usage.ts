import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { Dimension } from '../../usage/dimensions.js'
import type { OpenAIUsageOptions } from './index.js'
import { TokenUsageQuerySchema, type TOKEN_GROUP_BY } from './params.js'
import { USAGE_LIMITS } from '../../usage/report/buckets.js'
import { resultCells } from '../../usage/report/csv-lines.js'
import { csvReport, wantsCsv } from './csv.js'
import { reportContext } from './report-request.js'
import { allPages, firstPage, type ReportRequest } from '../../usage/report/report.js'
import { sendPage } from './json-page.js'
import { CostSchema, page, reportResponses } from './schemas.js'
import { exportRequest, keyCells, tokenResult, TOKEN_CSV_COLUMNS } from '../../usage/report/usage-results.js'

/** OpenAI's embeddings and moderations usage endpoints: input tokens of one usage type each. */
export const TOKEN_ENDPOINTS = [
  { path: 'embeddings', usageType: 'embeddings', operationId: 'getEmbeddingsUsage', what: 'Embeddings' },
  { path: 'moderations', usageType: 'moderations', operationId: 'getModerationsUsage', what: 'Moderations' },
] as const
type TokenEndpoint = (typeof TOKEN_ENDPOINTS)[number]

const TOKEN_DIMENSIONS: Record<(typeof TOKEN_GROUP_BY)[number], Dimension> = {
  project_id: 'PROJECT',
  user_id: 'USER',
  api_key_id: 'API_KEY',
  model: 'MODEL',
}
const dims = { project_id: z.string().nullable(), user_id: z.string().nullable(), api_key_id: z.string().nullable(), model: z.string().nullable() }

const resultObject = (e: TokenEndpoint) => `organization.usage.${e.usageType}.result`

/** The page an embeddings or moderations endpoint answers. */
export function tokenPageSchema(e: TokenEndpoint) {
  const object = resultObject(e)
  const result = z.object({ object: z.literal(object), input_tokens: z.number().int(), num_model_requests: z.number().int().nullable(), ...dims, cost: CostSchema })
  const example = { object, input_tokens: 16, num_model_requests: 2, project_id: null, user_id: null, api_key_id: null, model: 'text-embedding-3-small', cost: { value: 3.2e-7, value_exact: '0.00000032', currency: 'usd', complete: true, unpriced_tokens: 0 } }
  return page(result.meta({ id: `${e.what}UsageResult` }), `${e.what}UsagePage`, {
    object: 'page', data: [{ object: 'bucket', start_time: 1730419200, end_time: 1730505600, results: [example] }], has_more: false, next_page: null, sources: ['openai_api'],
  })
}

const tokenUsageRoutes: FastifyPluginAsyncZod<OpenAIUsageOptions> = async (app, opts) => {
  for (const e of TOKEN_ENDPOINTS) {
    const object = resultObject(e)
    const schema = tokenPageSchema(e)
    app.get(
      `/organization/usage/${e.path}`,
      {
        schema: {
          tags: ['reports'],
          operationId: e.operationId,
          summary: `${e.what} usage in OpenAI’s page shape, priced (OpenAI-compatible)`,
          description:
            `Token buckets of usage type \`${e.usageType}\` (input tokens only). OpenAI’s parameters, defaults and limits; each result adds \`cost\`. ` +
            'With `Accept: text/csv` the whole range (`limit` does not apply) is streamed, one row per result, cost exact.',
          querystring: TokenUsageQuerySchema,
          response: reportResponses(schema, `${e.what} usage buckets`),
        },
      },
      async (req, reply) => {
        const q = req.query
        const r: ReportRequest = {
          ...reportContext(req, reply, opts, q),
          limits: USAGE_LIMITS[q.bucket_width],
          groupBy: [...new Set(q.group_by ?? [])].map((g) => TOKEN_DIMENSIONS[g]),
          filter: { projectIds: q.project_ids, userIds: q.user_ids, apiKeyIds: q.api_key_ids, models: q.models, usageTypes: [e.usageType] },
          classes: false,
        }
        if (wantsCsv(req.headers.accept))
          return csvReport(
            reply,
            TOKEN_CSV_COLUMNS,
            await allPages(app.db, exportRequest(r)),
            // usage_type: without it the file posted back to /v1/usage/buckets was stored as completions;
            // provider and account: without them it was stored as OpenAI's, every account summed into one.
            (b, p) => b.rows.map((row) => ({ ...resultCells(tokenResult(object, row, p.currency)), usage_type: e.usageType, ...keyCells(row) })),
            `${e.path}_usage.csv`,
          )
        const p = await firstPage(app.db, r)
        return sendPage(reply, p, (b) => b.rows.map((row) => tokenResult(object, row, p.currency)))
      },
    )
  }
}

export default tokenUsageRoutes
