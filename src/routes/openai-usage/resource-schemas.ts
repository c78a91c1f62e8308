import { z } from 'zod'
import { ALL_SOURCES } from '../../usage/dimensions.js'
import { IMAGE_SOURCES, type FilterParam, type ResourceEndpoint } from '../../usage/report/resource-endpoints.js'
import { bucketWidth, common, idList, usageLimit } from './params.js'
import { CostSchema, page } from './schemas.js'

/** The query and page schemas of OpenAI's resource usage endpoints (src/usage/report/resource-endpoints.ts). */

const imageOrUsageSources = z
  .array(z.enum([...IMAGE_SOURCES, ...ALL_SOURCES]))
  .optional()
  .describe(
    'OpenAI’s image sources (`image.generation`, `image.edit`, `image.variation`) and/or tokenledger’s usage sources ' +
      '(`openai_api`, …; default every source except `events`) — the two sets of values are disjoint',
  )

export function querySchema(e: ResourceEndpoint) {
  const filters = Object.fromEntries(e.filters.map((f) => [f, idList(f.replace(/_/g, ' '))]))
  return z.object({
    ...common,
    bucket_width: bucketWidth,
    group_by: z.array(z.enum(e.fields)).optional().describe('Group results by these fields; others are null'),
    ...filters,
    ...(e.filters.includes('sources') ? { sources: imageOrUsageSources } : {}),
    limit: usageLimit,
  })
}
export type ResourceQuery = z.infer<ReturnType<typeof querySchema>> & Partial<Record<FilterParam, string[]>>

const ResourceCostSchema = CostSchema.extend({
  unpriced_quantity: z
    .array(z.object({ resource: z.string(), quantity: z.string() }))
    .describe('Quantity no unit price covered (storage in GiB-hours); it adds nothing to value'),
}).meta({ id: 'ResourceUsageCost' })

export function pageSchema(e: ResourceEndpoint) {
  const result = z
    .object({
      object: z.literal(e.object),
      [e.quantity]: z.number(),
      ...(e.requests ? { num_model_requests: z.number().int().nullable().describe('null: not kept for resource rows') } : {}),
      ...Object.fromEntries(e.fields.map((f) => [f, z.string().nullable()])),
      cost: ResourceCostSchema,
    })
    .meta({ id: `${e.what}UsageResult`, description: 'Fields not grouped by are null' })
  const example = {
    object: e.object,
    [e.quantity]: 2,
    ...(e.requests ? { num_model_requests: null } : {}),
    ...Object.fromEntries(e.fields.map((f) => [f, null])),
    cost: { value: 0, value_exact: '0', currency: 'usd', complete: false, unpriced_tokens: 0, unpriced_quantity: [{ resource: e.resource, quantity: '2' }] },
  }
  return page(result, `${e.what}UsagePage`, {
    object: 'page',
    data: [{ object: 'bucket', start_time: 1730419200, end_time: 1730505600, results: [example] }],
    has_more: false,
    next_page: null,
    sources: ['openai_api'],
  })
}
