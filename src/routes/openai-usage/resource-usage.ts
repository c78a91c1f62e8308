import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import type { OpenAIUsageOptions } from './index.js'
import { USAGE_LIMITS } from '../../usage/report/buckets.js'
import { resultCells } from '../../usage/report/csv-lines.js'
import { csvReport, wantsCsv } from './csv.js'
import { reportContext } from './report-request.js'
import { allPages, firstPage, type BucketRows, type ReportRequest } from '../../usage/report/report.js'
import { RESOURCE_ENDPOINTS } from '../../usage/report/resource-endpoints.js'
import { csvColumns, mergeRows, planQuery, resultOf } from '../../usage/report/resource-results.js'
import { sendPage } from './json-page.js'
import { pageSchema, querySchema, type ResourceQuery } from './resource-schemas.js'
import { reportResponses } from './schemas.js'

const resourceUsageRoutes: FastifyPluginAsyncZod<OpenAIUsageOptions> = async (app, opts) => {
  for (const e of RESOURCE_ENDPOINTS) {
    const schema = pageSchema(e)
    app.get(
      `/organization/usage/${e.path}`,
      {
        schema: {
          tags: ['reports'],
          operationId: e.operationId,
          summary: `${e.what} usage in OpenAI’s page shape, priced (OpenAI-compatible)`,
          description:
            `Resource \`${e.resource}\` in OpenAI’s page shape; each result adds \`cost\` (unpriced quantity listed, never $0). ` +
            (e.resource === 'storage_bytes'
              ? '`usage_bytes` is the time-weighted mean over each bucket, floored; a stored bucket longer than the requested width counts whole in the bucket of its start. '
              : '') +
            (e.requests ? '`num_model_requests` is null: request counts are kept for token buckets only. ' : '') +
            'With `Accept: text/csv` the whole range (`limit` does not apply) is streamed, one row per result with its `resource`, cost exact.',
          querystring: querySchema(e),
          response: reportResponses(schema, `${e.what} usage buckets`),
        },
      },
      async (req, reply) => {
        const { query, groupBy, grouped, attrs, attrFilters, filter } = planQuery(e, req.query as ResourceQuery)
        const r: ReportRequest = {
          ...reportContext(req, reply, opts, query),
          limits: USAGE_LIMITS[query.bucket_width],
          groupBy,
          groupByAttributes: attrs,
          filter,
          classes: false,
        }
        const results = (b: BucketRows, currency: string) => mergeRows(b, grouped, attrs, attrFilters).map((m) => resultOf(e, m, b, currency))
        if (wantsCsv(req.headers.accept))
          return csvReport(reply, csvColumns(e), await allPages(app.db, r), (b, p) => results(b, p.currency).map((x) => ({ ...resultCells(x), resource: e.resource })), `${e.path}_usage.csv`)
        const p = await firstPage(app.db, r)
        return sendPage(reply, p, (b) => results(b, p.currency))
      },
    )
  }
}

export default resourceUsageRoutes
