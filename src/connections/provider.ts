/**
 * One interface for every provider a connection can pull from (contract v2 "Connections"). A provider
 * module knows its auth headers, its endpoints, how to ask for one page of one window and which
 * report shape (`group_by`) that request declares; the puller (pull-run.ts) does the rest the same
 * way for all of them.
 */

export type BucketWidth = '1h' | '1d'

export const WIDTH_SECONDS: Record<BucketWidth, number> = { '1h': 3600, '1d': 86_400 }

/** Where a page of an endpoint is stored: usage → buckets/resources, costs → billed costs. */
export type EndpointKind = 'usage' | 'costs'

export interface EndpointSpec {
  name: string
  kind: EndpointKind
  /** The endpoint's API path under the base URL. */
  path: string
  /** Every `group_by` the endpoint supports: requested, and declared as the stored report shape. */
  groupBy: readonly string[]
  /** Cost reports come in days only; usage follows the connection's bucket width. */
  fixedWidth?: BucketWidth
}

export interface PageWindow {
  startMs: number
  endMs: number
  width: BucketWidth
}

export interface ProviderModule {
  provider: 'openai' | 'anthropic'
  defaultBaseUrl: string
  endpoints: readonly EndpointSpec[]
  authHeaders(adminKey: string): Record<string, string>
  /** The URL of one page: the window, the endpoint's `group_by`, the largest `limit`, the cursor. */
  pageUrl(baseUrl: string, endpoint: EndpointSpec, window: PageWindow, cursor: string | undefined): URL
}

/** The pagination envelope both providers share. */
export interface ProviderPage {
  data: unknown[]
  has_more?: unknown
  next_page?: string | null
}

/** The end (ms) of the latest bucket in a page, whichever provider's field names it uses. */
export function lastBucketEnd(page: ProviderPage): number | undefined {
  let last: number | undefined
  for (const b of page.data) {
    if (typeof b !== 'object' || b === null) continue
    const r = b as { end_time?: unknown; ending_at?: unknown }
    const ms = typeof r.end_time === 'number' ? r.end_time * 1000 : typeof r.ending_at === 'string' ? Date.parse(r.ending_at) : NaN
    if (Number.isFinite(ms)) last = last === undefined ? ms : Math.max(last, ms)
  }
  return last
}

/**
 * False only when every bucket of the page is a well-formed empty one (nothing to store). Anything else
 * is handed to ingest, which stores it or refuses it: a garbled bucket must fail the run, never be
 * taken for an empty one that `synced_until` then moves past.
 */
export function pageHasResults(page: ProviderPage): boolean {
  return !page.data.every((b) => typeof b === 'object' && b !== null && Array.isArray((b as { results?: unknown }).results) && (b as { results: unknown[] }).results.length === 0)
}
