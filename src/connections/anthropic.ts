import type { EndpointSpec, ProviderModule } from './provider.js'

/**
 * Anthropic's Admin API: `x-api-key` + `anthropic-version`, RFC 3339 windows (`starting_at`,
 * `ending_at`), `group_by[]` repeated, pages of at most 31 days / 168 hours; cost_report in days
 * only (limit 31), grouped by workspace and description only.
 */
const ANTHROPIC_VERSION = '2023-06-01'

const ANTHROPIC_ENDPOINTS: readonly EndpointSpec[] = [
  {
    name: 'usage_report_messages',
    kind: 'usage',
    path: '/v1/organizations/usage_report/messages',
    groupBy: ['api_key_id', 'workspace_id', 'model', 'service_tier', 'context_window', 'inference_geo'],
  },
  { name: 'cost_report', kind: 'costs', path: '/v1/organizations/cost_report', groupBy: ['workspace_id', 'description'], fixedWidth: '1d' },
]

const LIMIT = { '1h': 168, '1d': 31 } as const

export const anthropic: ProviderModule = {
  provider: 'anthropic',
  defaultBaseUrl: 'https://api.anthropic.com',
  endpoints: ANTHROPIC_ENDPOINTS,
  authHeaders: (key) => ({ 'x-api-key': key, 'anthropic-version': ANTHROPIC_VERSION }),
  pageUrl(baseUrl, endpoint, window, cursor) {
    const url = new URL(baseUrl.replace(/\/+$/, '') + endpoint.path)
    const q = url.searchParams
    q.set('starting_at', new Date(window.startMs).toISOString().replace('.000Z', 'Z'))
    q.set('ending_at', new Date(window.endMs).toISOString().replace('.000Z', 'Z'))
    q.set('bucket_width', window.width)
    q.set('limit', String(LIMIT[window.width]))
    for (const g of endpoint.groupBy) q.append('group_by[]', g)
    if (cursor !== undefined) q.set('page', cursor)
    return url
  },
}
