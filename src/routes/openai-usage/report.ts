import type { Db } from '../../db/client.js'
import { problems, type ProblemItem } from '../../errors.js'
import { cardNotVisible } from '../../auth/access.js'
import { findVisibleCard } from '../../pricing/card-lookup.js'
import { selectSources, type Dimension, type UsageFilter } from '../../usage/dimensions.js'
import type { UsageRow } from '../../usage/run-usage.js'
import { MAX_PAGE_SIZE, queryUsagePage, UsageInputError } from '../../usage/usage-service.js'
import type { TenantGate } from '../../usage/tenant-gate.js'
import type { Window } from '../../usage/windows.js'
import { bucketsFrom, encodePage, paramsHash, planRange, type Plan, type RangeParams } from './buckets.js'

/**
 * Runs the REST reports on the shared usage query layer (the same query and pricing as GraphQL's
 * `usage`): one query per page of buckets, its rows placed into OpenAI-style buckets.
 */

export interface ReportRequest {
  tenantId: string
  query: RangeParams & { rate_card: string; sources?: string[] | undefined } & Record<string, unknown>
  width: number
  limits: [number, number]
  groupBy: Dimension[]
  /** Resource attributes to group by (`size`, `vector_store_id`, …); row.attributes in this order. */
  groupByAttributes?: string[] | undefined
  filter: UsageFilter
  /** Ask the query layer for the per-class breakdown (token fields, line items). */
  classes: boolean
  maxGroups: number
  gate?: TenantGate | undefined
  /** Aborted when the client disconnects: its statements are cancelled. */
  signal?: AbortSignal | undefined
}

export interface BucketRows {
  start: number
  end: number
  rows: UsageRow[]
}

export interface ReportPage {
  buckets: BucketRows[]
  next: number | null
  nextPage: string | null
  sources: string[]
  currency: string
}

const WINDOW: Record<number, Window> = { 60: 'MINUTE', 3600: 'HOUR', 86_400: 'DAY' }

/** GraphQL argument names in UsageInputError → the REST parameter they come from. */
const REST_FIELD: Record<string, string> = {
  rateCard: 'rate_card',
  'filter.sources': 'sources',
  after: 'page',
  window: 'limit',
  groupBy: 'group_by',
  from: 'start_time',
  to: 'end_time',
}

/** Validates everything that depends on more than one parameter or on stored data; throws a 400 listing it all. */
async function planReport(db: Db, r: ReportRequest, now = new Date()): Promise<Plan & { currency: string }> {
  const { plan, problems: found } = planRange(r.query, paramsHash(r.query), r.width, r.limits, now)
  const all: ProblemItem[] = [...found]
  const card = await findVisibleCard(db, r.tenantId, r.query.rate_card)
  if (!card)
    all.push({ path: 'querystring.rate_card', message: cardNotVisible(r.query.rate_card) })
  if (all.length || !plan || !card)
    throw problems.validation(all, `${all.length} problem${all.length === 1 ? '' : 's'} in the query parameters`)
  return { ...plan, currency: card.currency.toLowerCase() }
}

function filterOf(r: ReportRequest): UsageFilter {
  return { ...r.filter, ...(r.query.sources?.length ? { sources: r.query.sources } : {}) }
}

/** Every row of the range [from, to), across the query layer's pages. */
async function fetchRows(db: Db, r: ReportRequest, from: Date, to: Date, asOf: Date): Promise<UsageRow[]> {
  const rows: UsageRow[] = []
  let after: string | undefined
  try {
    for (;;) {
      const page = await queryUsagePage(
        db,
        {
          tenantId: r.tenantId,
          from,
          to,
          window: WINDOW[r.width]!,
          timeZone: 'UTC',
          groupBy: r.groupBy,
          groupByLabels: [],
          groupByAttributes: r.groupByAttributes ?? [],
          filter: filterOf(r),
          rateCard: r.query.rate_card,
          pricingAsOf: asOf,
          first: MAX_PAGE_SIZE,
          after,
          classes: r.classes,
        },
        { maxGroups: r.maxGroups, gate: r.gate, signal: r.signal },
      )
      rows.push(...page.rows)
      if (!page.hasNextPage || !page.endCursor) return rows
      after = page.endCursor
    }
  } catch (err) {
    if (!(err instanceof UsageInputError)) throw err
    throw problems.validation([{ path: `querystring.${REST_FIELD[err.field] ?? err.field}`, message: err.message }])
  }
}

/** One page of `count` buckets from `start`, empty buckets included. */
async function readPage(
  db: Db,
  r: ReportRequest,
  plan: Plan & { currency: string },
  start: number,
  count: number,
): Promise<ReportPage> {
  const { buckets, next } = bucketsFrom(start, plan.end, plan.width, count)
  const nextPage = next === null ? null : encodePage(next, plan.asOf, plan.hash)
  // The same source selection the query layer applies, so an empty page still says what it counted.
  const sources = selectSources(filterOf(r), r.groupBy, [])
  const currency = plan.currency
  if (!buckets.length) return { buckets: [], next, nextPage, sources, currency }
  const from = buckets[0]!.start
  const to = buckets.at(-1)!.end
  const rows = await fetchRows(db, r, new Date(from * 1000), new Date(to * 1000), plan.asOf)
  const byStart = new Map<number, BucketRows>(buckets.map((b) => [b.start, { ...b, rows: [] }]))
  for (const row of rows) {
    // The query layer's windows are UTC-aligned; only the first bucket starts mid-window, at `from`.
    const start = Math.max(Math.floor(row.windowStart.getTime() / 1000), from)
    byStart.get(start)?.rows.push(row)
  }
  return { buckets: [...byStart.values()], next, nextPage, sources, currency }
}

/** The page the JSON API answers: `limit` buckets from start_time or the cursor. */
export async function firstPage(db: Db, r: ReportRequest, now = new Date()): Promise<ReportPage> {
  const plan = await planReport(db, r, now)
  return readPage(db, r, plan, plan.start, plan.limit)
}

/**
 * Every page of the range for a streamed export, in chunks of the widest page. The first chunk is
 * read before anything is sent, so bad parameters are still a 400 rather than a broken stream.
 */
export async function allPages(
  db: Db,
  r: ReportRequest,
  now = new Date(),
): Promise<{ sources: string[]; pages: AsyncGenerator<ReportPage> }> {
  const plan = await planReport(db, r, now)
  const chunk = r.limits[1]
  const first = await readPage(db, r, plan, plan.start, chunk)
  const pages = (async function* () {
    let page = first
    yield page
    while (page.next !== null) {
      page = await readPage(db, r, plan, page.next, chunk)
      yield page
    }
  })()
  return { sources: first.sources, pages }
}

/** OpenAI's page shape for an endpoint's results, with tokenledger's `sources` beside it. */
export function pageOf<T>(p: ReportPage, results: (b: ReportPage['buckets'][number]) => T[]) {
  return {
    object: 'page' as const,
    data: p.buckets.map((b) => ({ object: 'bucket' as const, start_time: b.start, end_time: b.end, results: results(b) })),
    has_more: p.next !== null,
    next_page: p.nextPage,
    sources: p.sources,
  }
}
