import { z } from 'zod'
import { COUNTER_FIELDS } from '../../ingest/token-classes.js'
import { problemResponses } from '../shared-schemas.js'

const counter = z.number().int().nullable()
const counters = Object.fromEntries(COUNTER_FIELDS.map((f) => [f, counter])) as Record<(typeof COUNTER_FIELDS)[number], typeof counter>

export const CostSchema = z
  .object({
    value: z.number().describe('The cost as a JSON number, for clients typed for OpenAI (may round)'),
    value_exact: z.string().describe('The exact cost as a decimal string'),
    currency: z.string(),
    complete: z.boolean().describe('false when some tokens had no price (they add nothing to value)'),
    unpriced_tokens: z.number().int(),
  })
  .meta({ id: 'UsageCost' })

const CompletionsResultSchema = z
  .object({
    object: z.literal('organization.usage.completions.result'),
    ...counters,
    project_id: z.string().nullable(),
    user_id: z.string().nullable(),
    api_key_id: z.string().nullable(),
    model: z.string().nullable(),
    batch: z.boolean().nullable(),
    service_tier: z.string().nullable(),
    context_tier: z.string().nullable().describe('Context-length tier when grouped by `context_tier` (tokenledger extension)'),
    inference_geo: z.string().nullable().describe('Inference geography when grouped by `inference_geo` (tokenledger extension)'),
    cost: CostSchema,
  })
  .meta({ id: 'CompletionsUsageResult', description: 'Fields not grouped by are null' })

export const page = <T extends z.ZodType>(result: T, id: string, example: unknown) =>
  z
    .object({
      object: z.literal('page'),
      data: z.array(
        z.object({
          object: z.literal('bucket'),
          start_time: z.number().int(),
          end_time: z.number().int(),
          results: z.array(result),
        }),
      ),
      has_more: z.boolean(),
      next_page: z.string().nullable().describe('Pass as `page` to read the next buckets'),
      sources: z.array(z.string()).describe('The usage sources counted (tokenledger extension)'),
    })
    .meta({ id, examples: [example] })

export const UsagePageSchema = page(CompletionsResultSchema, 'CompletionsUsagePage', {
  object: 'page',
  data: [
    {
      object: 'bucket',
      start_time: 1759795200,
      end_time: 1759881600,
      results: [
        {
          object: 'organization.usage.completions.result',
          input_tokens: 80992, output_tokens: 274770, input_cached_tokens: 0, input_cache_write_tokens: 0, input_cache_write_1h_tokens: 0,
          input_uncached_tokens: 80992, input_text_tokens: 80992, input_audio_tokens: 0, input_image_tokens: 0,
          input_cached_text_tokens: 0, input_cached_audio_tokens: 0, input_cached_image_tokens: 0,
          output_text_tokens: 274770, output_audio_tokens: 0, output_image_tokens: 0, num_model_requests: 21,
          project_id: null, user_id: null, api_key_id: null, model: 'gpt-5-mini-2025-08-07', batch: null, service_tier: null,
          context_tier: null, inference_geo: null,
          cost: { value: 0.569788, value_exact: '0.569788', currency: 'usd', complete: true, unpriced_tokens: 0 },
        },
      ],
    },
    { object: 'bucket', start_time: 1759881600, end_time: 1759968000, results: [] },
  ],
  has_more: true,
  next_page: 'page_eyJzIjoxNzU5OTY4MDAwLCJhIjoxNzYwMDAwMDAwMDAwLCJoIjoiLi4uIn0',
  sources: ['anthropic_api', 'api', 'openai_api', 'openai_csv'],
})

const CostsResultSchema = z
  .object({
    object: z.literal('organization.costs.result'),
    amount: z.object({
      value: z.number().nullable().describe('JSON number for OpenAI-typed clients; null for the unpriced line item'),
      value_exact: z.string().nullable().describe('The exact amount as a decimal string'),
      currency: z.string(),
    }),
    line_item: z
      .string()
      .nullable()
      .describe('With group_by=line_item: "<model>, <class>[, <tier>][, batch]", "<model>, unpriced", "<model>, <resource>" or "<resource>"'),
    project_id: z.string().nullable(),
    api_key_id: z.string().nullable(),
    quantity: z.number().nullable().describe('A JSON number (may round); null when the result mixes units'),
    quantity_exact: z.string().nullable().describe('The exact quantity as a decimal string'),
    quantity_unit: z.string().nullable().describe('tokens, images, characters, duration_seconds, gibibyte_hours, or the resource name'),
    complete: z.boolean(),
    unpriced_tokens: z.number().int(),
  })
  .meta({ id: 'CostsResult' })

export const CostsPageSchema = page(CostsResultSchema, 'CostsPage', {
  object: 'page',
  data: [
    {
      object: 'bucket',
      start_time: 1759795200,
      end_time: 1759881600,
      results: [
        {
          object: 'organization.costs.result',
          amount: { value: 0.020248, value_exact: '0.020248', currency: 'usd' },
          line_item: 'gpt-5-mini-2025-08-07, input',
          project_id: null, api_key_id: null, quantity: 80992, quantity_exact: '80992', quantity_unit: 'tokens', complete: true, unpriced_tokens: 0,
        },
        {
          object: 'organization.costs.result',
          amount: { value: null, value_exact: null, currency: 'usd' },
          line_item: 'my-finetune, unpriced',
          project_id: null, api_key_id: null, quantity: 1200, quantity_exact: '1200', quantity_unit: 'tokens', complete: false, unpriced_tokens: 1200,
        },
        {
          object: 'organization.costs.result',
          amount: { value: 0.06, value_exact: '0.06', currency: 'usd' },
          line_item: 'dall-e-2, images',
          project_id: null, api_key_id: null, quantity: 3, quantity_exact: '3', quantity_unit: 'images', complete: true, unpriced_tokens: 0,
        },
      ],
    },
  ],
  has_more: false,
  next_page: null,
  sources: ['anthropic_api', 'api', 'openai_api', 'openai_csv'],
})

/** A report's responses: its JSON page, or with `Accept: text/csv` the whole range streamed. */
export const reportResponses = (schema: z.ZodType, what: string) => ({
  200: {
    description: `${what}: JSON page of buckets (empty buckets have \`results: []\`), or with \`Accept: text/csv\` the whole range streamed as CSV`,
    content: { 'application/json': { schema }, 'text/csv': { schema: z.string() } },
  },
  ...problemResponses(400, 401, 403, 404, 422, 503),
})
