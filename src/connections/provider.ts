import { parseInstant } from '../time/instant.js'

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

export interface BucketSpan {
  startMs: number
  endMs: number
}

/**
 * The `[start, end)` of each bucket of a page, whichever provider's field names it uses, read by the one
 * instant parser. A bucket whose times are not instants is left out: ingest refuses it if it holds
 * anything, and an empty one moves nothing.
 */
function bucketSpans(page: ProviderPage): BucketSpan[] {
  const spans: BucketSpan[] = []
  for (const b of page.data) {
    if (typeof b !== 'object' || b === null) continue
    const r = b as { start_time?: unknown; end_time?: unknown; starting_at?: unknown; ending_at?: unknown }
    const start = parseInstant(r.start_time ?? r.starting_at)
    const end = parseInstant(r.end_time ?? r.ending_at)
    if (start.ok && end.ok) spans.push({ startMs: start.ms, endMs: end.ms })
  }
  return spans
}

/**
 * How far a page's buckets reach: `lastEndMs`, the end of its latest bucket (undefined without one), and
 * `contiguousMs`, the end of those that follow on without a gap from `fromMs`. Providers list a window's
 * empty buckets too, but a page that leaves some out (a sparse provider, pages out of order) says nothing
 * about the hours between: only the contiguous part is known to be pulled.
 */
export function pageReach(page: ProviderPage, fromMs: number): { contiguousMs: number; lastEndMs: number | undefined } {
  let contiguousMs = fromMs
  let lastEndMs: number | undefined
  let gap = false
  for (const s of bucketSpans(page).sort((a, b) => a.startMs - b.startMs)) {
    gap ||= s.startMs > contiguousMs
    if (!gap) contiguousMs = Math.max(contiguousMs, s.endMs)
    lastEndMs = Math.max(lastEndMs ?? s.endMs, s.endMs)
  }
  return { contiguousMs, lastEndMs }
}

/**
 * A bucket of the page that is not inside the window asked for. Providers answer the window asked for,
 * on its grid; a bucket before it or after it (the future included) would be stored past what the run
 * covers — replacing rows of another window, or usage that has not happened yet.
 */
export const bucketOutside = (page: ProviderPage, window: PageWindow): BucketSpan | undefined =>
  bucketSpans(page).find((s) => s.startMs < window.startMs || s.endMs > window.endMs)

/**
 * False only when every bucket of the page is a well-formed empty one (nothing to store). Anything else
 * is handed to ingest, which stores it or refuses it: a garbled bucket must fail the run, never be
 * taken for an empty one that `synced_until` then moves past.
 */
export function pageHasResults(page: ProviderPage): boolean {
  return !page.data.every((b) => typeof b === 'object' && b !== null && Array.isArray((b as { results?: unknown }).results) && (b as { results: unknown[] }).results.length === 0)
}

/**
 * Providers' cursors are tens of characters. Each is sent in the next URL and kept until the window ends
 * (to see a repeat): cursors as large as a page (SYNC_MAX_PAGE_BYTES), one per bucket, held the server's
 * memory a page's size per page, from any host a tenant sets as base_url.
 */
export const MAX_CURSOR_CHARS = 4096

export const spanText = (s: BucketSpan) => `${new Date(s.startMs).toISOString()}–${new Date(s.endMs).toISOString()}`
