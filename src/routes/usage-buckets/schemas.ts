import { z } from 'zod'
import { SOURCES } from '../../ingest/bucket.js'
import { dimensionText } from '../../ingest/text-schema.js'
import { COUNTER_FIELDS } from '../../ingest/token-classes.js'
import { InstantParamSchema } from '../../time/instant-schema.js'

// These schemas document the JSON bodies; the route parses them itself (src/ingest), because the
// contract wants every bad row named by index and summing/normalising that zod cannot express.
const Time = z.union([z.number().int().min(0), z.string()]).describe('unix seconds or an RFC 3339 time')
const Counter = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)
const counters = Object.fromEntries(COUNTER_FIELDS.map((f) => [f, Counter.nullable().optional()]))

export const BucketSchema = z
  .object({
    start_time: Time,
    end_time: Time.describe('exclusive; after start_time'),
    model: z.string(),
    provider: z.string().default('openai').optional(),
    account_id: z.string().nullable().optional(),
    project_id: z.string().nullable().optional(),
    user_id: z.string().nullable().optional(),
    api_key_id: z.string().nullable().optional(),
    service_tier: z.string().nullable().optional().describe('null, "standard" and "auto" are stored as "default"; "batch" as batch: true'),
    batch: z.boolean().nullable().optional(),
    ...counters,
  })
  .meta({
    id: 'UsageBucket',
    description: 'One usage bucket, with OpenAI’s field names. Breakdowns must add up to their totals.',
    examples: [
      {
        start_time: '2025-10-07T00:00:00Z',
        end_time: '2025-10-08T00:00:00Z',
        model: 'gpt-5-mini-2025-08-07',
        project_id: 'proj_abc',
        num_model_requests: 21,
        input_tokens: 80992,
        input_cached_tokens: 0,
        output_tokens: 274770,
      },
    ],
  })

const PageResult = z.object({ object: z.string().optional() }).catchall(z.unknown())
export const OpenAIPageSchema = z
  .object({
    object: z.string().optional(),
    data: z.array(z.object({ start_time: Time, end_time: Time, results: z.array(PageResult) }).catchall(z.unknown())),
  })
  .catchall(z.unknown())
  .meta({
    id: 'OpenAIUsagePage',
    description: 'A page exactly as GET /v1/organization/usage/completions (or embeddings, moderations) returns it',
  })

export const IngestBodySchema = z
  .union([z.object({ buckets: z.array(BucketSchema) }), OpenAIPageSchema, z.array(OpenAIPageSchema)])
  .describe(
    'application/json: {"buckets":[…]}, an OpenAI usage page or an array of pages. text/csv: an OpenAI dashboard ' +
      'usage export (completions_usage_<from>_<to>.csv), streamed, up to CSV_BODY_LIMIT bytes.',
  )

export const IngestQuerySchema = z.object({
  provider: dimensionText().optional().describe('for pages and CSV: the provider of rows that name none'),
  account_id: dimensionText().optional().describe('for pages and CSV: the account of rows that name none'),
})

export const IngestResultSchema = z
  .object({
    received: z.number().int().describe('data rows in the request'),
    skipped: z.number().int().describe('rows with no usage'),
    created: z.number().int(),
    replaced: z.number().int(),
    unchanged: z.number().int().describe('distinct keys whose stored counters were already equal'),
  })
  .meta({ id: 'IngestResult', examples: [{ received: 7, skipped: 1, created: 5, replaced: 0, unchanged: 0 }] })

const QueryTime = InstantParamSchema

export const DeleteQuerySchema = z
  .object({
    start_time: QueryTime.describe('unix seconds or RFC 3339; buckets starting at or after it'),
    end_time: QueryTime.describe('unix seconds or RFC 3339; buckets ending at or before it'),
    source: z.enum(SOURCES).optional(),
    account_id: z.string().min(1).optional(),
  })
  .refine((q) => q.end_time > q.start_time, { message: 'end_time must be after start_time', path: ['end_time'] })

export const DeleteResultSchema = z.object({ deleted: z.number().int() }).meta({ id: 'DeleteBucketsResult', examples: [{ deleted: 5 }] })
