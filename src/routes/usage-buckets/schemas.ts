import { z } from 'zod'
import { SOURCES, USAGE_TYPES } from '../../ingest/bucket.js'
import { OPENAI_ATTRIBUTE_KEYS } from '../../ingest/openai-page.js'
import { RESOURCE_NAME } from '../../ingest/resource.js'
import { dimensionText, providerIdText } from '../../ingest/text-schema.js'
import { COUNTER_FIELDS } from '../../ingest/token-classes.js'
import { InstantParamSchema } from '../../time/instant-schema.js'
import { strictQuery } from '../shared-schemas.js'

// These schemas document the JSON bodies; the route parses them itself (src/ingest), because the
// contract wants every bad row named by index and summing/normalising that zod cannot express.
const Time = z.union([z.number().int().min(0), z.string()]).describe('unix seconds or an RFC 3339 time')
const Counter = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)
const counters = Object.fromEntries(COUNTER_FIELDS.map((f) => [f, Counter.nullable().optional()]))

const BucketSchema = z
  .object({
    start_time: Time,
    end_time: Time.describe('exclusive; after start_time'),
    model: z.string(),
    provider: providerIdText().default('openai').optional(),
    account_id: z.string().nullable().optional(),
    project_id: z.string().nullable().optional(),
    user_id: z.string().nullable().optional(),
    api_key_id: z.string().nullable().optional(),
    service_tier: z.string().nullable().optional().describe('null, "standard" and "auto" are stored as "default"; "batch" as batch: true'),
    batch: z.boolean().nullable().optional(),
    usage_type: z.enum(USAGE_TYPES).default('completions').optional(),
    context_tier: z.string().nullable().optional().describe('e.g. "0-200k", "200k-1M"'),
    inference_geo: z.string().nullable().optional().describe('e.g. "global", "us"'),
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
const OpenAIPageSchema = z
  .object({
    object: z.string().optional(),
    data: z.array(z.object({ start_time: Time, end_time: Time, results: z.array(PageResult) }).catchall(z.unknown())),
  })
  .catchall(z.unknown())
  .meta({
    id: 'OpenAIUsagePage',
    description: 'A page exactly as any of OpenAI’s GET /v1/organization/usage/* endpoints returns it (told apart by each result’s object)',
  })

const ResourceSchema = z
  .object({
    start_time: Time,
    end_time: Time.describe('exclusive; after start_time'),
    resource: z.string().regex(RESOURCE_NAME).describe('images, characters, audio_seconds, storage_bytes, code_interpreter_sessions, file_search_calls, web_search_calls or your own name; "tokens" is reserved'),
    quantity: z.union([z.string(), z.number().min(0)]).describe('decimal string or number ≥ 0, stored exactly (storage_bytes: bytes held over the bucket)'),
    attributes: z.record(z.string(), z.string()).optional().describe('string → string, part of the natural key (e.g. size, vector_store_id)'),
    model: z.string().nullable().optional(),
    provider: providerIdText().default('openai').optional(),
    account_id: z.string().nullable().optional(),
    project_id: z.string().nullable().optional(),
    user_id: z.string().nullable().optional(),
    api_key_id: z.string().nullable().optional(),
    service_tier: z.string().nullable().optional(),
    batch: z.boolean().nullable().optional(),
    context_tier: z.string().nullable().optional(),
    inference_geo: z.string().nullable().optional(),
    num_model_requests: Counter.nullable().optional(),
    reported_cost: z.string().nullable().optional(),
  })
  .meta({
    id: 'UsageResource',
    description: 'Non-token usage: a quantity of one resource with the usual dimensions',
    examples: [{ start_time: '2025-10-07T00:00:00Z', end_time: '2025-10-08T00:00:00Z', resource: 'images', quantity: '12', model: 'dall-e-2', attributes: { size: '1024x1024' } }],
  })

const AnthropicPageSchema = z
  .object({
    data: z.array(z.object({ starting_at: z.string(), ending_at: z.string(), results: z.array(z.record(z.string(), z.unknown())) }).catchall(z.unknown())),
  })
  .catchall(z.unknown())
  .meta({ id: 'AnthropicUsageReportPage', description: 'A page exactly as Anthropic GET /v1/organizations/usage_report/messages returns it' })

export const IngestBodySchema = z
  .union([
    z.object({ buckets: z.array(BucketSchema).optional(), resources: z.array(ResourceSchema).optional() }),
    OpenAIPageSchema,
    z.array(OpenAIPageSchema),
    AnthropicPageSchema,
    z.array(AnthropicPageSchema),
  ])
  .describe(
    'application/json: {"buckets":[…], "resources":[…]} (either or both), an OpenAI usage page of any usage endpoint, an Anthropic ' +
      'usage_report/messages page, or an array of pages. text/csv: an OpenAI dashboard usage export (completions_usage_<from>_<to>.csv), ' +
      'streamed, up to CSV_BODY_LIMIT bytes.',
  )

export const IngestQuerySchema = strictQuery({
  provider: providerIdText().optional().describe('for pages and CSV: the provider of rows that name none (folded to lower case); beside {"buckets"/"resources"} rows, which name their own, 400'),
  account_id: dimensionText().optional().describe('for pages and CSV: the account of rows that name none; beside {"buckets"/"resources"} rows, which name their own, 400'),
  group_by: z
    .array(z.string().min(1).max(256))
    .max(50)
    .optional()
    .describe(
      'the report shape: the dimensions (OpenAI’s or Anthropic’s names) the pages were requested with; default: those non-null in any row. ' +
        'A name that is not a dimension must be an attribute key of a resource row in the request or of a provider resource ' +
        `(${OPENAI_ATTRIBUTE_KEYS.join(', ')}), else 400. Repeated, \`[]\` or comma-separated`,
    ),
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

export const DeleteQuerySchema = strictQuery({
  start_time: QueryTime.describe('unix seconds or RFC 3339; buckets starting at or after it'),
  end_time: QueryTime.describe('unix seconds or RFC 3339; buckets ending at or before it'),
  source: z.enum(SOURCES).optional(),
  account_id: z.string().min(1).optional(),
  usage_type: z.enum(USAGE_TYPES).optional().describe('only token buckets of this usage type (resources are kept)'),
  resource: z.string().regex(RESOURCE_NAME).optional().describe('only resources of this name (token buckets are kept)'),
})
  .refine((q) => q.usage_type === undefined || q.resource === undefined, { message: 'give usage_type or resource, not both', path: ['resource'] })
  .refine((q) => q.end_time > q.start_time, { message: 'end_time must be after start_time', path: ['end_time'] })

export const DeleteResultSchema = z.object({ deleted: z.number().int() }).meta({ id: 'DeleteBucketsResult', examples: [{ deleted: 5 }] })
