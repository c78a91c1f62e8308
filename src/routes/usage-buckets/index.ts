import { Readable } from 'node:stream'
import type { FastifyRouteSchemaDef, FastifyValidationResult } from 'fastify/types/schema.js'
import { validatorCompiler, type FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import type { ZodType } from 'zod'
import type { Config } from '../../config.js'
import { deleteBuckets } from '../../db/queries/buckets.js'
import { problems } from '../../errors.js'
import { ingestCsvUpload, ingestJsonBody, jsonBodySource } from '../../ingest/ingest-buckets.js'
import { beforeRetention, retentionGuard } from '../../ingest/retention.js'
import { countIngestedRows } from '../../plugins/metrics.js'
import { normaliseArrayParams } from '../openai-usage/params.js'
import { problemResponses } from '../shared-schemas.js'
import {
  DeleteQuerySchema,
  DeleteResultSchema,
  IngestBodySchema,
  IngestQuerySchema,
  IngestResultSchema,
} from './schemas.js'

const ACCEPTED = ['application/json', 'text/csv']

// The body schema documents the forms; rows are checked in src/ingest so that every bad row is named.
function documentOnlyBody<S>(route: FastifyRouteSchemaDef<S>): FastifyValidationResult {
  if (route.httpPart === 'body') return (data: unknown) => ({ value: data })
  return validatorCompiler(route as unknown as FastifyRouteSchemaDef<ZodType>)
}

const usageBucketRoutes: FastifyPluginAsyncZod<{ config: Config }> = async (app, opts) => {
  // CSV is handed to the handler as the raw stream (no buffering); the handler spools it with its
  // own limit, CSV_BODY_LIMIT, which is far larger than the JSON BODY_LIMIT.
  app.addContentTypeParser(['text/csv', 'application/csv'], (_req, payload, done) => done(null, payload))

  app.post(
    '/usage/buckets',
    {
      onRequest: app.auth.tenant('ingest'),
      preValidation: normaliseArrayParams,
      // The bucket parsers refuse NUL themselves, naming the row by index/line (textProblem). A CSV body
      // goes to a temp file, not memory: it takes nothing from BODY_BYTES_IN_FLIGHT.
      config: { nulCheckedPerItem: true, bodyWeight: { 'text/csv': 0, 'application/csv': 0 } },
      bodyLimit: opts.config.BODY_LIMIT,
      validatorCompiler: documentOnlyBody,
      schema: {
        tags: ['usage'],
        operationId: 'ingestUsageBuckets',
        summary: 'Ingest provider-reported usage buckets (all-or-nothing)',
        description:
          'Rows sharing a natural key within a page set or CSV are summed; a stored bucket with the same key is ' +
          'replaced; equal counters are left untouched. One bad row → 400 naming every bad row, nothing written. With ' +
          'RETENTION_MONTHS set, rows starting before the retention cutoff are bad rows (they would count twice). An unknown query ' +
          'parameter is a 400 naming it (a misspelled account_id would file the rows under no account).',
        consumes: ACCEPTED,
        querystring: IngestQuerySchema,
        body: IngestBodySchema,
        response: { 200: IngestResultSchema, ...problemResponses(400, 401, 403, 409, 413, 415, 503) },
      },
    },
    async (req) => {
      const defaults = { provider: req.query.provider, accountId: req.query.account_id, groupBy: req.query.group_by }
      const body: unknown = req.body
      const retention = retentionGuard(opts.config.RETENTION_MONTHS)
      let result
      if (body instanceof Readable) result = await ingestCsvUpload(app.db, req.tenantId, body, defaults, opts.config.CSV_BODY_LIMIT, retention)
      else if (/^application\/json\b/i.test(req.headers['content-type'] ?? '')) result = await ingestJsonBody(app.db, req.tenantId, body, defaults, retention)
      else throw problems.unsupportedMediaType(req.headers['content-type'], ACCEPTED)
      const { span, ...counts } = result
      countIngestedRows(app.metrics, body instanceof Readable ? 'openai_csv' : (jsonBodySource(body) ?? 'unknown'), counts)
      app.budgets.afterIngest(req.tenantId, span, 'buckets')
      return counts
    },
  )

  app.delete(
    '/usage/buckets',
    {
      onRequest: app.auth.tenant('ingest'),
      schema: {
        tags: ['usage'],
        operationId: 'deleteUsageBuckets',
        summary: 'Delete stored buckets and resources inside a time range (to re-import at another granularity or shape)',
        description:
          'With RETENTION_MONTHS set, a range starting before the retention cutoff is refused (400): the hourly rollups keep those hours. ' +
          'An unknown query parameter is a 400 naming it, nothing deleted (a misspelled filter would widen the delete).',
        querystring: DeleteQuerySchema,
        response: { 200: DeleteResultSchema, ...problemResponses(400, 401, 403, 503) },
      },
    },
    async (req) => {
      // Below the cutoff the raw rows may be gone but the rollups keep them: a delete there could not
      // remove what the rollups count, and would only invite a re-import that retention refuses.
      const old = beforeRetention(retentionGuard(opts.config.RETENTION_MONTHS), req.query.start_time.getTime(), 'start_time is')
      if (old) throw problems.validation([{ path: 'querystring.start_time', message: old }])
      const deleted = await deleteBuckets(app.db, {
        tenantId: req.tenantId,
        start: req.query.start_time,
        end: req.query.end_time,
        source: req.query.source,
        accountId: req.query.account_id,
        usageType: req.query.usage_type,
        resource: req.query.resource,
      })
      return { deleted }
    },
  )
}

export default usageBucketRoutes
