import type { Dimension } from '../dimensions.js'

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
