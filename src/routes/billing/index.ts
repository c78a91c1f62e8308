import { Readable } from 'node:stream'
import type { FastifyRouteSchemaDef, FastifyValidationResult } from 'fastify/types/schema.js'
import { validatorCompiler, type FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import type { ZodType } from 'zod'
import type { Config } from '../../config.js'
import { ingestBilledCosts } from '../../billing/ingest-billed-costs.js'
import { deleteBilledCosts } from '../../db/queries/billed-costs.js'
import { problems } from '../../errors.js'
import { boundedBody } from '../../http/bounded-body.js'
import { normaliseArrayParams } from '../openai-usage/params.js'
import { problemResponses } from '../shared-schemas.js'
import { BilledCostsBodySchema, BilledCostsQuerySchema, BilledCostsResultSchema, DeleteBilledQuerySchema, DeleteBilledResultSchema } from './schemas.js'

const ACCEPTED = ['application/json', 'text/csv']
const BILLED_CSV_WEIGHT = 2

// The body schema documents the forms; src/billing checks the rows so that every bad row is named.
function documentOnlyBody<S>(route: FastifyRouteSchemaDef<S>): FastifyValidationResult {
  if (route.httpPart === 'body') return (data: unknown) => ({ value: data })
  return validatorCompiler(route as unknown as FastifyRouteSchemaDef<ZodType>)
}

/** What providers billed: POST stores cost reports, DELETE removes a range (contract v2 "Billed costs"). */
const billingRoutes: FastifyPluginAsyncZod<{ config: Config }> = async (app, opts) => {
  // A cost export's rows are held in memory (summed and shape-checked before the transaction opens), so it
  // has its own limit, BILLED_CSV_BODY_LIMIT, far below the spooled usage CSV's. The CSV reader takes the
  // body as it arrives and decodes it strictly (invalid UTF-8 is a 400 naming the line): never a whole
  // Buffer and string of it, and the parsing interleaves with other requests instead of holding the loop.
  app.addContentTypeParser(['text/csv', 'application/csv'], (_req, payload, done) =>
    done(null, boundedBody(payload, opts.config.BILLED_CSV_BODY_LIMIT)),
  )

  app.post(
    '/billing/costs',
    {
      onRequest: app.auth.tenant('ingest'),
      preValidation: normaliseArrayParams,
      // A cost CSV's rows cost BILLED_CSV_WEIGHT times what a JSON body's do per byte (docs/reliability.md "Round 12").
      config: { nulCheckedPerItem: true, bodyWeight: { 'text/csv': BILLED_CSV_WEIGHT, 'application/csv': BILLED_CSV_WEIGHT } },
      bodyLimit: opts.config.BODY_LIMIT,
      validatorCompiler: documentOnlyBody,
      schema: {
        tags: ['billing'],
        operationId: 'ingestBilledCosts',
        summary: 'Store what a provider billed (all-or-nothing); never added to usage totals',
        description:
          'OpenAI Costs API pages (numeric amounts read as their shortest round-trip decimal), the OpenAI cost export CSV (rows ' +
          'without an amount skipped), Anthropic cost_report pages (cents ÷ 100, exactly). A stored cost with the same natural key is ' +
          'replaced; rows sharing a key within the request are summed. Costs of one account overlapping in time with another report ' +
          'shape → 409. An unknown query parameter is a 400 naming it (a misspelled account_id would file the costs under another account).',
        consumes: ACCEPTED,
        querystring: BilledCostsQuerySchema,
        body: BilledCostsBodySchema,
        response: { 200: BilledCostsResultSchema, ...problemResponses(400, 401, 403, 409, 413, 415, 503) },
      },
    },
    async (req) => {
      const body: unknown = req.body
      if (!(body instanceof Readable) && !/^application\/json\b/i.test(req.headers['content-type'] ?? ''))
        throw problems.unsupportedMediaType(req.headers['content-type'], ACCEPTED)
      const q = req.query
      return ingestBilledCosts(app.db, { tenantId: req.tenantId, provider: q.provider, accountId: q.account_id, groupBy: q.group_by }, body)
    },
  )

  app.delete(
    '/billing/costs',
    {
      onRequest: app.auth.tenant('ingest'),
      schema: {
        tags: ['billing'],
        operationId: 'deleteBilledCosts',
        summary: 'Delete stored billed costs starting inside a time range (to re-import at another granularity or shape)',
        description: 'An unknown query parameter is a 400 naming it, nothing deleted (a misspelled filter would widen the delete).',
        querystring: DeleteBilledQuerySchema,
        response: { 200: DeleteBilledResultSchema, ...problemResponses(400, 401, 403, 503) },
      },
    },
    async (req) => ({
      deleted: await deleteBilledCosts(app.db, { tenantId: req.tenantId, start: req.query.start_time, end: req.query.end_time, accountId: req.query.account_id }),
    }),
  )
}

export default billingRoutes
