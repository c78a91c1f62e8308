import type { Modality } from '../db/token-columns.js'
import { foldCapitals, normaliseTier } from '../ingest/values.js'

/** Grouping dimensions of `usage`: GraphQL enum value → fact column → row field. */
export const DIMENSIONS = {
  PROVIDER: { column: 'provider', field: 'provider' },
  ACCOUNT: { column: 'account_id', field: 'accountId' },
  PROJECT: { column: 'project_id', field: 'projectId' },
  API_KEY: { column: 'api_key_id', field: 'apiKeyId' },
  USER: { column: 'user_id', field: 'userId' },
  MODEL: { column: 'model', field: 'model' },
  SERVICE_TIER: { column: 'service_tier', field: 'serviceTier' },
  BATCH: { column: 'batch', field: 'batch' },
  SOURCE: { column: 'source', field: 'source' },
  USAGE_TYPE: { column: 'usage_type', field: 'usageType' },
  CONTEXT_TIER: { column: 'context_tier', field: 'contextTier' },
  INFERENCE_GEO: { column: 'inference_geo', field: 'inferenceGeo' },
  /** Token rows are resource `tokens`; every other value is a resource row (images, storage_bytes, …). */
  RESOURCE: { column: 'resource', field: 'resource' },
  ENDPOINT: { column: 'endpoint', field: 'endpoint' },
  REQUEST_TYPE: { column: 'request_type', field: 'requestType' },
  SESSION: { column: 'session_id', field: 'sessionId' },
  EMPLOYEE: { column: 'employee_id', field: 'employeeId' },
  AGENT: { column: 'agent_id', field: 'agentId' },
} as const

export type ColumnDimension = keyof typeof DIMENSIONS
export type Dimension = ColumnDimension | 'MODALITY'

/** Dimensions only events carry; grouping or filtering by them selects source `events` by default. */
const EVENT_ONLY_DIMENSIONS: Dimension[] = ['ENDPOINT', 'REQUEST_TYPE', 'SESSION', 'EMPLOYEE', 'AGENT']

/** The most values one list filter holds, on every surface (GraphQL, the REST reports, reconciliation, budgets). */
export const MAX_FILTER_VALUES = 1000

/**
 * The most label and attribute keys one `usage` query groups by, together: each is a column of the
 * statement, several times over (PostgreSQL allows 1,664 per select list).
 */
export const MAX_GROUP_BY_KEYS = 64

export interface UsageFilter {
  providers?: string[]
  accountIds?: string[]
  projectIds?: string[]
  apiKeyIds?: string[]
  userIds?: string[]
  models?: string[]
  serviceTiers?: string[]
  modalities?: string[]
  sources?: string[]
  usageTypes?: string[]
  contextTiers?: string[]
  inferenceGeos?: string[]
  /** Resource names; `tokens` selects the token rows. */
  resources?: string[]
  batch?: boolean
  endpoints?: string[]
  requestTypes?: string[]
  sessionIds?: string[]
  employeeIds?: string[]
  agentIds?: string[]
}

/** The values of the `modalities` filter: the modalities of the token classes. */
export const MODALITIES = ['text', 'audio', 'image'] as const satisfies readonly Modality[]

/**
 * `UsageFilter` in snake_case, as the REST surfaces name it (a budget's filter, GET /v1/reconciliation's
 * parameters): REST name → filter field.
 */
export const FILTER_PARAMS = {
  providers: 'providers',
  account_ids: 'accountIds',
  project_ids: 'projectIds',
  api_key_ids: 'apiKeyIds',
  user_ids: 'userIds',
  models: 'models',
  service_tiers: 'serviceTiers',
  modalities: 'modalities',
  sources: 'sources',
  usage_types: 'usageTypes',
  context_tiers: 'contextTiers',
  inference_geos: 'inferenceGeos',
  resources: 'resources',
  batch: 'batch',
  endpoints: 'endpoints',
  request_types: 'requestTypes',
  session_ids: 'sessionIds',
  employee_ids: 'employeeIds',
  agent_ids: 'agentIds',
} as const satisfies Record<string, keyof UsageFilter>

export type FilterParams = { [K in keyof typeof FILTER_PARAMS]?: UsageFilter[(typeof FILTER_PARAMS)[K]] | undefined }

/** The filter a REST request's snake_case parameters name (those given). */
export function filterFromParams(params: FilterParams): UsageFilter {
  const out: Record<string, unknown> = {}
  for (const [rest, field] of Object.entries(FILTER_PARAMS)) {
    const v = params[rest as keyof FilterParams]
    if (v !== undefined) out[field] = v
  }
  return out as UsageFilter
}

/** Filter field → fact column, for the list filters. */
export const FILTER_COLUMNS = {
  providers: 'provider',
  accountIds: 'account_id',
  projectIds: 'project_id',
  apiKeyIds: 'api_key_id',
  userIds: 'user_id',
  models: 'model',
  serviceTiers: 'service_tier',
  usageTypes: 'usage_type',
  contextTiers: 'context_tier',
  inferenceGeos: 'inference_geo',
  resources: 'resource',
  endpoints: 'endpoint',
  requestTypes: 'request_type',
  sessionIds: 'session_id',
  employeeIds: 'employee_id',
  agentIds: 'agent_id',
} as const satisfies Partial<Record<keyof UsageFilter, string>>

/**
 * A list filter's values as the facts hold them: provider names are compared folded (`foldCapitals`, the
 * rule of every entry point), so `providers: ["OpenAI"]` finds openai's usage; service tiers as every entry
 * point stores them (`normaliseTier`), so `serviceTiers: ["Flex"]` finds flex usage and `["standard"]` the
 * usage reported as `standard` (stored `default`) — except `batch`, a flag rather than a tier, which stays
 * as written; the rest exactly.
 */
export function filterValues(filter: UsageFilter, key: keyof typeof FILTER_COLUMNS): string[] | undefined {
  const values = filter[key]
  if (!values) return values
  if (key === 'providers') return values.map(foldCapitals)
  if (key === 'serviceTiers') return values.map((v) => (foldCapitals(v) === 'batch' ? 'batch' : normaliseTier(v, null).serviceTier))
  return values
}

export const EVENT_ONLY_FILTERS = ['endpoints', 'requestTypes', 'sessionIds', 'employeeIds', 'agentIds'] as const

const BUCKET_SOURCES = ['openai_api', 'openai_csv', 'anthropic_api', 'api'] as const
export const ALL_SOURCES = [...BUCKET_SOURCES, 'events'] as const

/**
 * Which sources a query counts. Provider reports and an application's events usually describe the
 * same calls, so by default only provider-reported buckets are counted; asking for an event-only
 * field (with no explicit `sources`) selects `events` instead. Never both unless asked.
 */
export function selectSources(filter: UsageFilter, groupBy: Dimension[], groupByLabels: string[]): string[] {
  if (filter.sources?.length) return [...new Set(filter.sources)].sort()
  const eventOnly =
    groupByLabels.length > 0 ||
    groupBy.some((d) => EVENT_ONLY_DIMENSIONS.includes(d)) ||
    EVENT_ONLY_FILTERS.some((f) => filter[f]?.length)
  return eventOnly ? ['events'] : [...BUCKET_SOURCES].sort()
}
