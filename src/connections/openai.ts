import type { EndpointSpec, ProviderModule } from './provider.js'

/**
 * OpenAI's Admin API: `Authorization: Bearer <admin key>`, unix-second windows, `group_by` as a
 * repeated parameter, pages of at most 31 days / 168 hours of buckets, costs in days (limit 180).
 * Each usage endpoint is asked for every dimension its results carry (OpenAI's API reference), so the
 * stored rows keep the finest shape the provider reports.
 */
const KEY_DIMS = ['project_id', 'user_id', 'api_key_id', 'model'] as const

const usage = (name: string, groupBy: readonly string[]): EndpointSpec => ({ name, kind: 'usage', path: `/v1/organization/usage/${name}`, groupBy })

const OPENAI_ENDPOINTS: readonly EndpointSpec[] = [
  usage('completions', [...KEY_DIMS, 'batch', 'service_tier']),
  usage('embeddings', KEY_DIMS),
  usage('moderations', KEY_DIMS),
  usage('images', [...KEY_DIMS, 'size', 'source']),
  usage('audio_speeches', KEY_DIMS),
  usage('audio_transcriptions', KEY_DIMS),
  usage('vector_stores', ['project_id']),
  usage('code_interpreter_sessions', ['project_id']),
  usage('file_search_calls', ['project_id', 'user_id', 'api_key_id', 'vector_store_id']),
  usage('web_search_calls', [...KEY_DIMS, 'context_level']),
  { name: 'costs', kind: 'costs', path: '/v1/organization/costs', groupBy: ['project_id', 'line_item'], fixedWidth: '1d' },
]

const USAGE_LIMIT = { '1h': 168, '1d': 31 } as const
const COSTS_LIMIT = 180

export const openai: ProviderModule = {
  provider: 'openai',
  defaultBaseUrl: 'https://api.openai.com',
  endpoints: OPENAI_ENDPOINTS,
  authHeaders: (key) => ({ authorization: `Bearer ${key}` }),
  pageUrl(baseUrl, endpoint, window, cursor) {
    const url = new URL(baseUrl.replace(/\/+$/, '') + endpoint.path)
    const q = url.searchParams
    q.set('start_time', String(window.startMs / 1000))
    q.set('end_time', String(window.endMs / 1000))
    q.set('bucket_width', window.width)
    q.set('limit', String(endpoint.kind === 'costs' ? COSTS_LIMIT : USAGE_LIMIT[window.width]))
    for (const g of endpoint.groupBy) q.append('group_by', g)
    if (cursor !== undefined) q.set('page', cursor)
    return url
  },
}
