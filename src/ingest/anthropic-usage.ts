import { assembleBucket, assembleDims, readCounters, RowProblems, type RowDefaults } from './bucket.js'
import type { ParsedJsonRows } from './canonical.js'
import type { IndexedResource } from './resource.js'
import type { CounterField, RawCounters } from './token-classes.js'
import { walkUsagePages } from './usage-pages.js'
import { foldCapitals, parseJsonCounter, parseJsonDimension } from './values.js'

/**
 * Anthropic Admin API usage reports (`GET /v1/organizations/usage_report/messages` pages), mapped as
 * the contract's "Anthropic usage reports" says: cache writes of 5 minutes and 1 hour kept apart, web
 * searches as resource `web_search_calls` under the same key, workspace → project, the user or service
 * account → user, context window → context tier. Anthropic reports no request count, so `requests`
 * stays null (never 0). The ledger's account (the organization) comes from `?account_id=` only.
 */

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** A page (or an array of pages) whose buckets say `starting_at`: Anthropic's shape, not OpenAI's. */
export function isAnthropicUsageBody(body: unknown): boolean {
  const pages = Array.isArray(body) ? body : [body]
  return (
    pages.length > 0 &&
    pages.every((p) => isObject(p) && Array.isArray(p.data)) &&
    pages.some((p) => (p as { data: unknown[] }).data.some((b) => isObject(b) && 'starting_at' in b))
  )
}

/**
 * An Anthropic `cost_report` page (or pages): buckets say `starting_at` as usage reports do, but results
 * carry billed money (`amount` in cents, `cost_type`), not token counts. Read as usage they stored empty
 * buckets; they belong to POST /v1/billing/costs.
 */
export function isAnthropicCostReport(body: unknown): boolean {
  if (!isAnthropicUsageBody(body)) return false
  const results = (Array.isArray(body) ? body : [body]).flatMap((p: { data: unknown[] }) =>
    p.data.flatMap((b) => (isObject(b) && Array.isArray(b.results) ? (b.results as unknown[]) : [])),
  )
  return results.some((r) => isObject(r) && ('amount' in r || 'cost_type' in r))
}

const ANTHROPIC_TIMES = { start: 'starting_at', end: 'ending_at' }

/** Anthropic's tiers as pricing sees them: batch is the batch flag; on-demand and discount variants fold. */
export function tier(raw: string | null): { serviceTier: string | null; batch: boolean | null } {
  if (raw === null) return { serviceTier: null, batch: null }
  const t = foldCapitals(raw)
  if (t === 'batch') return { serviceTier: 'batch', batch: true }
  return { serviceTier: t === 'priority_on_demand' ? 'priority' : t === 'flex_discount' ? 'flex' : t, batch: false }
}

export async function parseAnthropicPages(body: unknown, defaults: RowDefaults): Promise<ParsedJsonRows> {
  const rows: ParsedJsonRows['rows'] = []
  const resources: IndexedResource[] = []
  const walked = await walkUsagePages(body, ANTHROPIC_TIMES, ({ result, index, startMs, endMs, problems: p }) => {
    const dim = (field: string) => p.take(parseJsonDimension(result[field]), field, null)
    // Absent or null is "not reported"; anything else but an object is bad input (its counts would be lost).
    const nested = (field: string): Record<string, unknown> => {
      const v = result[field]
      if (isObject(v)) return v
      if (v !== undefined && v !== null) p.add(field, `${field} must be an object or null`)
      return {}
    }
    const cacheCreation = nested('cache_creation')
    const toolUse = nested('server_tool_use')
    const raw: Record<string, unknown> = {
      input_uncached_tokens: result.uncached_input_tokens,
      input_text_tokens: result.uncached_input_tokens,
      input_cached_tokens: result.cache_read_input_tokens,
      input_cached_text_tokens: result.cache_read_input_tokens,
      input_cache_write_tokens: cacheCreation.ephemeral_5m_input_tokens,
      input_cache_write_1h_tokens: cacheCreation.ephemeral_1h_input_tokens,
      output_tokens: result.output_tokens,
      output_text_tokens: result.output_tokens,
    }
    const counters: RawCounters = readCounters((f: CounterField) => raw[f], parseJsonCounter, p, Object.keys(raw) as CounterField[])
    // A request count is never reported: null, whatever the counters say.
    counters.num_model_requests = null
    const { serviceTier, batch } = tier(dim('service_tier'))
    // Both are read (and checked) before one is chosen: `??` skipped the service account whenever a user
    // account was given, so a NUL, a number or 300 characters there was stored as nothing, silently.
    const userAccount = dim('account_id')
    const serviceAccount = dim('service_account_id')
    const user = userAccount ?? serviceAccount
    const dims = {
      startMs,
      endMs,
      provider: defaults.provider ?? 'anthropic',
      accountId: defaults.accountId ?? null,
      projectId: dim('workspace_id'),
      userId: user,
      apiKeyId: dim('api_key_id'),
      model: dim('model'),
      serviceTier,
      batch,
      contextTier: dim('context_window'),
      inferenceGeo: dim('inference_geo'),
    }
    const searches = p.take(parseJsonCounter(toolUse.web_search_requests), 'server_tool_use.web_search_requests', null)
    const normalised = assembleBucket({ ...dims, counters }, p)
    if (!normalised) return
    rows.push({ index, bucket: normalised })
    // Stored even when 0 (if reported), so that a later report of 0 replaces an earlier count.
    if (searches !== null) {
      const d = assembleDims(dims, new RowProblems({ index }))!
      resources.push({ index, resource: Object.assign(d, { resource: 'web_search_calls', quantity: String(searches), attributes: {}, requests: null, reportedCost: null }) })
    }
  })
  return { received: walked.received, skipped: 0, rows, resources, problems: walked.problems }
}
