import { z } from 'zod'
import { ALL_SOURCES, type Dimension } from '../../usage/dimensions.js'
import { bucketWidth, common, idList, usageLimit } from './params.js'
import { CostSchema, page } from './schemas.js'

/**
 * OpenAI's usage endpoints for non-token resources (contract v2 "REST mirrors, extended"): which
 * stored resource each reads, the result's `object` and quantity field, and the group_by values and
 * filters the official SDK sends. A result field is a usage dimension or a resource attribute.
 */

export type FieldSource = { dim: Dimension; field: string } | { attr: string }

export const FIELD_SOURCES = {
  project_id: { dim: 'PROJECT', field: 'projectId' },
  user_id: { dim: 'USER', field: 'userId' },
  api_key_id: { dim: 'API_KEY', field: 'apiKeyId' },
  model: { dim: 'MODEL', field: 'model' },
  size: { attr: 'size' },
  source: { attr: 'source' },
  vector_store_id: { attr: 'vector_store_id' },
  context_level: { attr: 'context_level' },
} as const satisfies Record<string, FieldSource>
export type ResultField = keyof typeof FIELD_SOURCES

/** Filter parameter → the result field it restricts. */
const FILTER_FIELDS = {
  project_ids: 'project_id',
  user_ids: 'user_id',
  api_key_ids: 'api_key_id',
  models: 'model',
  sizes: 'size',
  sources: 'source',
  vector_store_ids: 'vector_store_id',
  context_levels: 'context_level',
} as const satisfies Record<string, ResultField>
export type FilterParam = keyof typeof FILTER_FIELDS
export const filterField = (p: FilterParam): ResultField => FILTER_FIELDS[p]

export interface ResourceEndpoint {
  path: string
  operationId: string
  what: string
  resource: string
  object: string
  /** The result field holding the quantity (OpenAI's name). */
  quantity: string
  /** Whether OpenAI's result has `num_model_requests`. */
  requests: boolean
  /** Result dimension fields, in OpenAI's order; all are group_by values. */
  fields: readonly [ResultField, ...ResultField[]]
  filters: readonly FilterParam[]
}

const PEOPLE = ['project_id', 'user_id', 'api_key_id'] as const
const PEOPLE_FILTERS = ['project_ids', 'user_ids', 'api_key_ids'] as const

export const RESOURCE_ENDPOINTS: readonly ResourceEndpoint[] = [
  { path: 'images', operationId: 'getImagesUsage', what: 'Images', resource: 'images', object: 'organization.usage.images.result', quantity: 'images', requests: true, fields: [...PEOPLE, 'model', 'size', 'source'], filters: [...PEOPLE_FILTERS, 'models', 'sizes', 'sources'] },
  { path: 'audio_speeches', operationId: 'getAudioSpeechesUsage', what: 'AudioSpeeches', resource: 'characters', object: 'organization.usage.audio_speeches.result', quantity: 'characters', requests: true, fields: [...PEOPLE, 'model'], filters: [...PEOPLE_FILTERS, 'models'] },
  { path: 'audio_transcriptions', operationId: 'getAudioTranscriptionsUsage', what: 'AudioTranscriptions', resource: 'audio_seconds', object: 'organization.usage.audio_transcriptions.result', quantity: 'seconds', requests: true, fields: [...PEOPLE, 'model'], filters: [...PEOPLE_FILTERS, 'models'] },
  { path: 'vector_stores', operationId: 'getVectorStoresUsage', what: 'VectorStores', resource: 'storage_bytes', object: 'organization.usage.vector_stores.result', quantity: 'usage_bytes', requests: false, fields: ['project_id'], filters: ['project_ids'] },
  { path: 'code_interpreter_sessions', operationId: 'getCodeInterpreterSessionsUsage', what: 'CodeInterpreterSessions', resource: 'code_interpreter_sessions', object: 'organization.usage.code_interpreter_sessions.result', quantity: 'num_sessions', requests: false, fields: ['project_id'], filters: ['project_ids'] },
  // OpenAI's spec names file search results `file_searches` although the endpoint is `file_search_calls`.
  { path: 'file_search_calls', operationId: 'getFileSearchCallsUsage', what: 'FileSearchCalls', resource: 'file_search_calls', object: 'organization.usage.file_searches.result', quantity: 'num_requests', requests: false, fields: [...PEOPLE, 'vector_store_id'], filters: [...PEOPLE_FILTERS, 'vector_store_ids'] },
  { path: 'web_search_calls', operationId: 'getWebSearchCallsUsage', what: 'WebSearchCalls', resource: 'web_search_calls', object: 'organization.usage.web_searches.result', quantity: 'num_requests', requests: true, fields: [...PEOPLE, 'model', 'context_level'], filters: [...PEOPLE_FILTERS, 'models', 'context_levels'] },
]

/** OpenAI's image `sources`; the same parameter also takes tokenledger's usage sources (disjoint values). */
export const IMAGE_SOURCES = ['image.generation', 'image.edit', 'image.variation'] as const

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
