import type { Db } from '../../db/client.js'
import { isStatementTimeout } from '../../db/errors.js'
import { ProblemError, problems, type ProblemItem } from '../../errors.js'
import { cardNotVisible } from '../../auth/access.js'
import { findVisibleCard } from '../../pricing/card-lookup.js'
import { selectSources, type Dimension, type UsageFilter } from '../dimensions.js'
import type { UsageRow } from '../run-usage.js'
import { streamUsage, type RowStream } from '../stream-usage.js'
import { checkUsageArgs, tooManyGroups, UsageInputError } from '../usage-service.js'
import type { ClassBreakdown, UsageSpec } from '../usage-sql.js'
import type { TenantGate } from '../tenant-gate.js'
import type { ExportGate } from '../export-gate.js'
import type { Window } from '../windows.js'
import { SnapshotCache } from '../page-snapshots.js'
import { pageSnapshots } from '../usage-service.js'
import { bucketCount, bucketsFrom, encodePage, paramsHash, planRange, type Bucket, type Plan, type RangeParams } from './buckets.js'

/**
 * The REST reports (OpenAI's usage and costs mirrors) on the shared usage query layer — the same
 * grouped, priced usage as GraphQL's `usage`. A page is a range of buckets (OpenAI's `limit`, its
 * `next_page` the next bucket's start: keyset, not offsets), read as ONE statement without totals and
 * handed on bucket by bucket as the rows arrive. No HTTP here: the routes stream what this yields.
 */

export interface ReportRequest {
  tenantId: string
  query: RangeParams & { rate_card: string; sources?: string[] | undefined } & Record<string, unknown>
  width: number
  limits: [number, number]
  groupBy: Dimension[]
  /**
   * What a token export groups by beside `groupBy`: the provider and account its file carries
   * (usage-results.ts, exportRequest). A split of the same results, so not bound into the `page` cursor:
   * a JSON page's next_page starts the CSV export where the page left off (bound, it was a 400 on `page`).
   */
  exportKeys?: readonly Dimension[] | undefined
  /** Resource attributes to group by (`size`, `vector_store_id`, …); row.attributes in this order. */
  groupByAttributes?: string[] | undefined
  filter: UsageFilter
  /** Ask the query layer for the per-class breakdown: every figure (line items) or the tokens only (token fields). */
  classes: ClassBreakdown
  maxGroups: number
  gate?: TenantGate | undefined
  /** The server's share of the pool for streamed reads (EXPORT_CONCURRENCY). */
  exportGate?: ExportGate | undefined
  /** Aborted when the client disconnects: its statements are cancelled. */
  signal?: AbortSignal | undefined
}

export interface BucketRows {
  start: number
  end: number
  rows: UsageRow[]
}

/** An iterator that must be finished or `return()`ed: that closes the statement behind it. */
export type Stream<T> = AsyncIterableIterator<T> & { return(): Promise<IteratorResult<T>> }

export interface ReportPage {
  /** The page's buckets in order, empty ones included, each once its rows are read. */
  buckets: Stream<BucketRows>
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

interface ReportPlan extends Plan {
  cardId: number
  /** The card's currency as stored (rows carry it) and as OpenAI writes it (lower case, on the page). */
  cardCurrency: string
  currency: string
}

/**
 * Validates everything that depends on more than one parameter or on stored data; throws a 400 listing it all.
 * `whole`: the request reads every bucket of its range (a CSV export), not a page of them — so the range
 * itself is bounded by the windows limit, as GraphQL's windows are: unbounded, a `1m` export from 1970
 * streamed 29 million empty buckets for an hour and more (to 9999: weeks), one statement per 1,440.
 */
async function planReport(db: Db, r: ReportRequest, now = new Date(), whole = false): Promise<ReportPlan> {
  // The hash binds the cursor to what the endpoint computes, not only to its parameters: the usage endpoints
  // share most parameters, and completions' next_page was taken by embeddings, moderations and images.
  const shape = { filter: r.filter, groupBy: r.groupBy, groupByAttributes: r.groupByAttributes, classes: r.classes }
  const { plan, problems: found } = planRange(r.query, paramsHash({ ...r.query, shape }), r.width, r.limits, now)
  const all: ProblemItem[] = [...found]
  const buckets = plan && whole ? bucketCount(plan.start, plan.end, plan.width) : 0
  if (buckets > r.maxGroups)
    all.push({
      path: 'querystring.end_time',
      message: `the export spans ${buckets} buckets of ${plan!.width} seconds, more than the limit of ${r.maxGroups}; use a wider bucket_width or a shorter range`,
    })
  const card = await findVisibleCard(db, r.tenantId, r.query.rate_card)
  if (!card)
    all.push({ path: 'querystring.rate_card', message: cardNotVisible(r.query.rate_card) })
  if (all.length || !plan || !card)
    throw problems.invalidParameters(all)
  return { ...plan, cardId: card.id, cardCurrency: card.currency, currency: card.currency.toLowerCase() }
}

function filterOf(r: ReportRequest): UsageFilter {
  return { ...r.filter, ...(r.query.sources?.length ? { sources: r.query.sources } : {}) }
}

/** The spec of the range [from, to): the usage query's, with the REST report's fixed choices (UTC, no labels). */
function specOf(r: ReportRequest, plan: ReportPlan, from: Date, to: Date): UsageSpec {
  const filter = filterOf(r)
  return {
    tenantId: r.tenantId,
    from,
    to,
    window: WINDOW[r.width]!,
    timeZone: 'UTC',
    groupBy: [...new Set([...r.groupBy, ...(r.exportKeys ?? [])])],
    groupByLabels: [],
    groupByAttributes: [...new Set(r.groupByAttributes ?? [])],
    filter,
    sources: selectSources(filter, r.groupBy, []),
    pricing: { cardId: plan.cardId, asOf: plan.asOf },
    classes: r.classes,
    rollups: true,
  }
}

/**
 * Every row of the range [from, to) as ONE statement (the query layer's grouped usage, no totals),
 * opened: its first batch is read, so a query over the windows × groups bound is a 400 here.
 */
async function openRows(db: Db, r: ReportRequest, plan: ReportPlan, from: Date, to: Date, onTooLarge: (groups: number) => Error): Promise<RowStream> {
  const spec = specOf(r, plan, from, to)
  try {
    checkUsageArgs({ from, to, first: 0, filter: spec.filter, window: spec.window }, r.maxGroups)
    return await streamUsage(db, spec, {
      maxGroups: r.maxGroups,
      currency: plan.cardCurrency,
      gate: r.gate,
      exportGate: r.exportGate,
      signal: r.signal,
      onTooLarge,
    })
  } catch (err) {
    if (err instanceof UsageInputError) throw err.inQuery(REST_FIELD)
    throw err
  }
}

/**
 * The buckets of a page in order, empty ones included, each with its rows: the rows arrive ordered by
 * window, so a bucket is complete when a later one's rows begin (or the rows end).
 */
async function* bucketRows(rows: RowStream, buckets: Bucket[]): AsyncGenerator<BucketRows> {
  const from = buckets[0]!.start
  let i = 0
  let current: BucketRows = { ...buckets[0]!, rows: [] }
  try {
    for await (const batch of rows)
      for (const row of batch) {
        // The query layer's windows are UTC-aligned; only the first bucket starts mid-window, at `from`.
        const start = Math.max(Math.floor(row.windowStart.getTime() / 1000), from)
        while (current.start < start && i + 1 < buckets.length) {
          yield current
          current = { ...buckets[++i]!, rows: [] }
        }
        if (current.start === start) current.rows.push(row)
      }
    yield current
    while (i + 1 < buckets.length) yield { ...buckets[++i]!, rows: [] }
  } finally {
    await rows.return()
  }
}

/**
 * One page of `count` buckets from `start` (keyset: the page is the buckets, its cursor the next start).
 * More rows than `maxGroups` is the 400 of `tooManyGroups` unless the caller says otherwise (`onTooLarge`).
 */
async function readPage(
  db: Db,
  r: ReportRequest,
  plan: ReportPlan,
  start: number,
  count: number,
  onTooLarge: (groups: number) => Error = (groups) => tooManyGroups(groups, r.maxGroups),
): Promise<ReportPage> {
  const { buckets, next } = bucketsFrom(start, plan.end, plan.width, count)
  const nextPage = next === null ? null : encodePage(next, plan.asOf, plan.hash)
  // The same source selection the query layer applies, so an empty page still says what it counted.
  const sources = selectSources(filterOf(r), r.groupBy, [])
  const currency = plan.currency
  if (!buckets.length) return { buckets: primed(emptyBuckets()), next, nextPage, sources, currency }
  const rows = await openRows(db, r, plan, new Date(buckets[0]!.start * 1000), new Date(buckets.at(-1)!.end * 1000), onTooLarge)
  return { buckets: primed(bucketRows(rows, buckets)), next, nextPage, sources, currency }
}

async function* emptyBuckets(): AsyncGenerator<BucketRows> {}

/**
 * A started generator behind a plain iterator: `return()` reaches the generator's `finally` (which
 * closes its cursor) even when nobody has pulled from it yet — a generator that never ran skips it.
 */
export function primed<T>(gen: AsyncGenerator<T>): Stream<T> {
  let first: Promise<IteratorResult<T>> | undefined = gen.next()
  // Not awaited here: a rejection is the first next()'s to report.
  first.catch(() => {})
  const it: Stream<T> = {
    [Symbol.asyncIterator]: () => it,
    next: () => {
      const p = first ?? gen.next()
      first = undefined
      return p
    },
    return: async () => {
      first = undefined
      return gen.return(undefined)
    },
  }
  return it
}

/**
 * The page the JSON API answers: `limit` buckets from start_time or the cursor. A listing's first page reads
 * the whole range ahead when it fits in the widest page (readAhead), and its later pages come from what
 * was read (fromSnapshot); otherwise — or once the rows are gone — each page is its own statement, streamed.
 */
export async function firstPage(db: Db, r: ReportRequest, now = new Date()): Promise<ReportPage> {
  const plan = await planReport(db, r, now)
  return fromSnapshot(r, plan) ?? (await readAhead(db, r, plan)) ?? readPage(db, r, plan, plan.start, plan.limit)
}

/**
 * The rows after a listing's first page, read by its statement (docs/rest-mirrors.md "Read ahead"): kept
 * as usage's page snapshots are (same limits, bound to tenant and query hash), with the first row's bucket
 * start and the pricing instant they were read for. A later page with their id is served from them, so
 * every page of the listing is one moment of the ledger — a bucket ingested between two pages is in
 * neither, as in GraphQL's pages — and the five statements of a 30-day listing are one.
 */
const readAheads = new SnapshotCache<UsageRow, { from: number; end: number; asOf: number }>()
/** At most this many rows are read ahead (the statement's own group bound; over it, pages are read one by one). */
const READ_AHEAD_ROWS = 10_000

/** The over-the-bound signal of a read ahead: not an error, the listing is read page by page instead. */
class ReadAheadTooLarge extends Error {}

/** The first page of a listing whose whole range fits in the widest page: one statement reads all of it. */
async function readAhead(db: Db, r: ReportRequest, plan: ReportPlan): Promise<ReportPage | undefined> {
  readAheads.limits = pageSnapshots.limits
  const total = bucketCount(plan.start, plan.end, plan.width)
  if (r.query.page !== undefined || total <= plan.limit || total > r.limits[1] || readAheads.entryBudget === 0) return undefined
  const { buckets, next } = bucketsFrom(plan.start, plan.end, plan.width, plan.limit)
  // The tenant's slot is held until the page is sent, as a streamed page's is, not only while it is read:
  // the page's rows (up to READ_AHEAD_ROWS) stay in memory until its client has read them, and with the
  // slot given back at the last row a client that did not read could pile up as many such pages as it
  // could ask for (40 of them held 750 MB of heap).
  const release = r.gate ? await r.gate.acquire(r.tenantId) : () => {}
  const all: UsageRow[] = []
  try {
    const bounded = { ...r, gate: undefined, maxGroups: Math.min(r.maxGroups, READ_AHEAD_ROWS) }
    const rows = await openRows(db, bounded, plan, new Date(plan.start * 1000), new Date(plan.end * 1000), () => new ReadAheadTooLarge())
    for await (const batch of rows) for (const row of batch) all.push(row)
  } catch (err) {
    release()
    // Too many rows, or a range the windows bound refuses whole: the page alone is read (and judged).
    if (err instanceof ReadAheadTooLarge || (err instanceof ProblemError && err.statusCode === 400)) return undefined
    // The whole range past the statement timeout, where the page alone may not be (it reads less, and may not
    // wait on a lock that the rest of the range does): the read-ahead was a 503 for a page read alone in 0.1 s.
    // Not when the client left: its statement is cancelled with the same code, and nobody waits for the page.
    if (isStatementTimeout(err) && !r.signal?.aborted) return undefined
    throw err
  }
  const pageEnd = buckets.at(-1)!.end * 1000
  const cut = all.findIndex((row) => row.windowStart.getTime() >= pageEnd)
  const mine = cut < 0 ? all : all.slice(0, cut)
  const id = next === null ? undefined : readAheads.put({ tenantId: r.tenantId, hash: plan.hash, start: 0, rows: cut < 0 ? [] : all.slice(cut), extra: { from: next, end: plan.end, asOf: plan.asOf.getTime() } })
  const nextPage = next === null ? null : encodePage(next, plan.asOf, plan.hash, id)
  return { buckets: primed(bucketRows(held(mine, release), buckets)), next, nextPage, sources: selectSources(filterOf(r), r.groupBy, []), currency: plan.currency }
}

/** A later page of a listing read ahead, from its rows — undefined when they are gone (expired, evicted, another instance). */
function fromSnapshot(r: ReportRequest, plan: ReportPlan): ReportPage | undefined {
  const snap = plan.snapshot === undefined ? undefined : readAheads.get(plan.snapshot, r.tenantId, plan.hash)
  // Without end_time the range ends at the bucket after `now`: a later page read after that boundary has
  // buckets the rows were never read for (they were served as empty), so it is read anew.
  if (!snap || plan.start < snap.extra.from || plan.end !== snap.extra.end || plan.asOf.getTime() !== snap.extra.asOf) return undefined
  const { buckets, next } = bucketsFrom(plan.start, plan.end, plan.width, plan.limit)
  const nextPage = next === null ? null : encodePage(next, plan.asOf, plan.hash, plan.snapshot)
  const sources = selectSources(filterOf(r), r.groupBy, [])
  if (!buckets.length) return { buckets: primed(emptyBuckets()), next, nextPage, sources, currency: plan.currency }
  // Later pages start on a bucket boundary, where the held rows' windows start too.
  const [from, to] = [buckets[0]!.start * 1000, buckets.at(-1)!.end * 1000]
  const mine = snap.rows.filter((row) => {
    const t = row.windowStart.getTime()
    return t >= from && t < to
  })
  return { buckets: primed(bucketRows(held(mine), buckets)), next, nextPage, sources, currency: plan.currency }
}

/** Rows already read, as the stream bucketRows reads; `release` runs when it is finished or closed. */
const held = (rows: UsageRow[], release = () => {}): RowStream => primed((async function* () {
  try {
    yield rows
  } finally {
    release()
  }
})())

/** A chunk of an export over the rows bound: read again as fewer buckets (its statement is done, nothing was sent). */
class ChunkTooLarge extends Error {
  constructor(readonly groups: number) {
    super(`${groups} rows`)
  }
}

/**
 * Every page of the range for a streamed export, in chunks of the widest page (one statement each).
 * The first chunk is opened before anything is sent, so bad parameters are still a 400 rather than a
 * broken stream; close `pages` (iterate it to the end or return() it) to close its cursor.
 *
 * A chunk is held to `maxGroups` rows like any statement of the query layer. One over it is read again as
 * half as many buckets, down to one (then the 400 of `tooManyGroups`), and the chunk after one that fit
 * doubles again: the bound was applied to the first chunk only, so a later, denser month broke the stream
 * off after its 200 (docs/rest-mirrors.md). Only one bucket over the bound on its own still can, late in
 * an export — the JSON page of that bucket is a 400 too.
 */
export async function allPages(db: Db, r: ReportRequest, now = new Date()): Promise<{ sources: string[]; pages: Stream<ReportPage> }> {
  const plan = await planReport(db, r, now, true)
  const widest = r.limits[1]
  let count = widest
  const fitting = async (start: number): Promise<ReportPage> => {
    for (;;) {
      try {
        const page = await readPage(db, r, plan, start, count, (groups) => new ChunkTooLarge(groups))
        count = Math.min(widest, count * 2)
        return page
      } catch (err) {
        if (!(err instanceof ChunkTooLarge)) throw err
        if (count === 1) throw tooManyGroups(err.groups, r.maxGroups).inQuery(REST_FIELD)
        count = Math.ceil(count / 2)
      }
    }
  }
  const first = await fitting(plan.start)
  const pages = async function* () {
    let page = first
    try {
      yield page
      while (page.next !== null) {
        page = await fitting(page.next)
        yield page
      }
    } finally {
      await page.buckets.return()
    }
  }
  return { sources: first.sources, pages: primed(pages()) }
}

/** OpenAI's page around its buckets, with tokenledger's `sources` beside it (the fields after `data`). */
export function pageTail(p: ReportPage) {
  return { has_more: p.next !== null, next_page: p.nextPage, sources: p.sources }
}
