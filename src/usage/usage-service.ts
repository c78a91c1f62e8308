import type { Db } from '../db/client.js'
import { cardNotVisible } from '../auth/access.js'
import { findVisibleCard } from '../pricing/card-lookup.js'
import { pricingInstant } from '../pricing/as-of.js'
import { selectSources, ALL_SOURCES, MAX_FILTER_VALUES, MAX_GROUP_BY_KEYS } from './dimensions.js'
import { runUsage, usageRows, type RowValues, type UsageResult, type UsageTotals } from './run-usage.js'
import { usageRowViews, type UsageRowView } from './row-views.js'
import { SnapshotCache } from './page-snapshots.js'
import { isRowKey, keyColumns, type ClassBreakdown, type RowKey, type UsageSpec } from './usage-sql.js'
import type { TenantGate } from './tenant-gate.js'
import { isKnownTimeZone, maxWindows, unknownZoneMessage, type Window } from './windows.js'
import { ArgProblems } from './arg-problems.js'

import { UsageInputError } from '../errors.js'
import { badCursor, decodeCursor as decode, decodeKey, encodeCursor as encode, encodeKey, isInstantMs, queryHash as hashQuery } from '../pagination/cursor.js'

// Defined with the error catalogue (one mapping to REST and GraphQL); re-exported for the query layer's callers.
export { UsageInputError }

export const MAX_PAGE_SIZE = 1000

export interface UsageLimits {
  /** Upper bound on windows × groups one query may produce. */
  maxGroups: number
  /** Per-tenant share of expensive queries; absent, queries are not limited (tests, scripts). */
  gate?: TenantGate | undefined
  /** Cancels the database work when the client goes away. */
  signal?: AbortSignal | undefined
}

/** What a caller asks for: the spec's query fields, with a card by name and page arguments. */
export interface UsageArgs extends Omit<UsageSpec, 'sources' | 'pricing' | 'classes'> {
  rateCard: string
  pricingAsOf?: Date | undefined
  first: number
  after?: string | undefined
  /** Also return the per-class breakdown on each row (see UsageSpec.classes). */
  classes?: ClassBreakdown | undefined
}

export interface UsagePage extends UsageResult {
  sources: string[]
  endCursor: string | null
}

/** Identifies a query apart from its page arguments, so a cursor cannot be replayed on another query. */
export function queryHash(args: { first: number; after?: string | null | undefined }): string {
  return hashQuery(args, ['first', 'after'])
}

/**
 * Cursors are opaque: an offset bound to the exact query it came from, and to the pricing instant of
 * its first page, so later pages are priced exactly like the first even if rates are added meanwhile;
 * `snapshot` names the page snapshot that holds the rest of the result (usage only, see pageSnapshots).
 */
export function encodeCursor(offset: number, hash: string, asOf: Date, snapshot?: string, key?: RowKey): string {
  return encode({ o: offset, h: hash, a: asOf.getTime(), ...(snapshot ? { s: snapshot } : {}), ...(key ? { k: encodeKey(key) } : {}) })
}

const SNAPSHOT_ID = /^[A-Za-z0-9_-]{22}$/

interface Cursor {
  offset: number
  asOf: Date
  snapshot?: string | undefined
  /** The key of the page's last row (usage; checked against the query's key columns by `cursorKey`). */
  key?: unknown[] | undefined
}

export function decodeCursor(cursor: string, hash: string): Cursor {
  const v = decode(cursor)
  const key = v?.k === undefined ? undefined : decodeKey(v.k)
  // A forged cursor must still hold sane numbers: an offset PostgreSQL's bigint takes, an instant a Date holds.
  if (v && Number.isSafeInteger(v.o) && (v.o as number) >= 0 && v.h === hash && isInstantMs(v.a) && (v.s === undefined || (typeof v.s === 'string' && SNAPSHOT_ID.test(v.s))) && (v.k === undefined || key))
    return { offset: v.o as number, asOf: new Date(v.a), snapshot: v.s as string | undefined, key }
  throw badCursor()
}

/** The cursor's row key, when it has the types of the query's key columns; a 400 when it does not. */
function cursorKey(spec: UsageSpec, cursor: Cursor | undefined): RowKey | undefined {
  if (!cursor?.key) return undefined
  if (isRowKey(spec, cursor.key)) return cursor.key
  throw badCursor()
}

/** The key of a shipped row (its values in `columns` order): the window start as epoch ms. */
function keyOfValues(spec: SnapshotExtra['spec'], columns: readonly string[], values: RowValues): RowKey {
  return keyColumns(spec).map((name) => {
    const v = values[columns.indexOf(name)] as string | boolean | null
    return name === 'window_start' ? new Date(v as string).getTime() : v
  })
}

interface SnapshotExtra {
  spec: Pick<UsageSpec, 'groupBy' | 'groupByLabels' | 'groupByAttributes' | 'classes'>
  /** Column names of the kept rows' values. */
  columns: string[]
  totals: UsageTotals
  groupCount: number
  currency: string
  sources: string[]
}

/**
 * The page snapshots of this process (docs/performance.md "Paging"): a query's first statement also
 * returns every row after its page that fits in one entry's share of the cache; they are kept here
 * and serve the later pages.
 */
export const pageSnapshots = new SnapshotCache<RowValues, SnapshotExtra>()

/** Adds what is wrong with [from, to) to `found`; answers whether the range holds. */
function checkRange(from: Date, to: Date, found: ArgProblems): boolean {
  if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime())) found.add('from', '`from` and `to` must be valid instants')
  else if (to <= from) found.add('to', '`to` must be later than `from`')
  else return true
  return false
}

/** IANA names that this PostgreSQL knows (pg_timezone_names, read once); POSIX strings are refused. */
export async function checkTimeZone(db: Db, timeZone: string, found: ArgProblems): Promise<void> {
  if (!(await isKnownTimeZone(db, timeZone))) found.add('timeZone', unknownZoneMessage(timeZone))
}

export function checkPageSize(first: number, found: ArgProblems): void {
  if (!Number.isInteger(first) || first < 0 || first > MAX_PAGE_SIZE) found.add('first', `\`first\` must be between 0 and ${MAX_PAGE_SIZE}`)
}

/** The rate card the caller may price with, by name; undefined (and a problem in `found`) when there is none. */
export async function lookupCard(db: Db, tenantId: string, name: string, found: ArgProblems) {
  const card = await findVisibleCard(db, tenantId, name)
  if (!card) found.add('rateCard', cardNotVisible(name))
  return card
}

/** The cursor of `after`, when it belongs to the query of `hash`; a problem in `found` when not. */
export function checkCursor(after: string | null | undefined, hash: string, found: ArgProblems) {
  return after ? found.try(() => decodeCursor(after, hash)) : undefined
}

/** The answer to a query whose windows × groups are over the limit (usage in GraphQL and REST alike). */
export const tooManyGroups = (groups: number, max: number) =>
  new UsageInputError(
    'groupBy',
    `the query produces ${groups} rows (windows × groups), more than the limit of ${max}; narrow the range, use a larger window or fewer dimensions`,
  )

/**
 * List arguments are bounded like the REST parameters: unbounded, 200,000 models in four filters held a
 * PostgreSQL backend at 2 GB for 20 s, and 3,000 label keys passed PostgreSQL's column limit (54011).
 */
export function checkListSizes(args: Pick<UsageArgs, 'filter'> & Partial<Pick<UsageArgs, 'groupByLabels' | 'groupByAttributes'>>, found: ArgProblems): void {
  for (const [name, values] of Object.entries(args.filter))
    if (Array.isArray(values) && values.length > MAX_FILTER_VALUES) found.add(`filter.${name}`, `filter.${name} lists ${values.length} values; at most ${MAX_FILTER_VALUES}`)
  const labels = args.groupByLabels?.length ?? 0
  const keys = labels + (args.groupByAttributes?.length ?? 0)
  if (keys > MAX_GROUP_BY_KEYS)
    found.add(labels ? 'groupByLabels' : 'groupByAttributes', `groupByLabels and groupByAttributes name ${keys} keys together; at most ${MAX_GROUP_BY_KEYS}`)
}

type CheckedArgs = Pick<UsageArgs, 'from' | 'to' | 'first' | 'filter'> &
  Partial<Pick<UsageArgs, 'groupByLabels' | 'groupByAttributes'>> & { window: Window | undefined }

/**
 * The checks that need no database, adding every problem to `found`; answers the number of windows
 * (0 when the range or window is unusable). A window of undefined is one already found wrong.
 */
export function findUsageArgProblems(args: CheckedArgs, maxGroups: number, found: ArgProblems): number {
  const rangeHolds = checkRange(args.from, args.to, found)
  checkPageSize(args.first, found)
  checkListSizes(args, found)
  const unknownSources = (args.filter.sources ?? []).filter((s) => !(ALL_SOURCES as readonly string[]).includes(s))
  if (unknownSources.length)
    found.add('filter.sources', `unknown source(s) ${unknownSources.join(', ')}; known: ${ALL_SOURCES.join(', ')}`)
  if (!rangeHolds || !args.window) return 0
  const windows = maxWindows(args.window, args.from, args.to)
  if (windows > maxGroups)
    found.add('window', `the range spans up to ${windows} ${args.window} windows, more than the limit of ${maxGroups}; use a larger window or a shorter range`)
  return windows
}

/**
 * As findUsageArgProblems, throwing one UsageInputError that names them all.
 * Also run by the GraphQL cost rule before any resolver (src/graphql/cost-limit.ts).
 */
export function checkUsageArgs(args: CheckedArgs, maxGroups: number): number {
  const found = new ArgProblems()
  const windows = findUsageArgProblems(args, maxGroups, found)
  found.throwIfAny()
  return windows
}

/** A page before its rows are mapped: the shipped values, and what maps them. */
interface ValuesPage extends Omit<UsagePage, 'rows'> {
  values: RowValues[]
  spec: SnapshotExtra['spec']
  columns: string[]
  currency: string
}

/** Validates the arguments, then runs the usage query for one page (holding one of the tenant's slots). */
async function queryValuesPage(db: Db, args: UsageArgs, limits: UsageLimits): Promise<ValuesPage> {
  const found = new ArgProblems()
  findUsageArgProblems(args, limits.maxGroups, found)
  if (found.any) {
    // Name the cursor, time zone and card too, when they are wrong as well: one answer lists every problem.
    checkCursor(args.after, queryHash(args), found)
    await checkTimeZone(db, args.timeZone, found)
    await lookupCard(db, args.tenantId, args.rateCard, found)
    found.throwIfAny()
  }
  if (!limits.gate) return runUsagePage(db, args, limits)
  return limits.gate.run(args.tenantId, () => runUsagePage(db, args, limits))
}

/** One page of usage, its rows as plain UsageRow objects (`usageRows`). */
export async function queryUsagePage(db: Db, args: UsageArgs, limits: UsageLimits): Promise<UsagePage> {
  const { values, spec, columns, currency, ...page } = await queryValuesPage(db, args, limits)
  return { ...page, rows: values.map(usageRows(spec, columns, currency)) }
}

/**
 * As queryUsagePage, its rows as views that map a field only when it is read (src/usage/row-views.ts):
 * for GraphQL, which reads the fields a query selects and nothing else.
 */
export async function queryUsageViews(db: Db, args: UsageArgs, limits: UsageLimits): Promise<Omit<UsagePage, 'rows'> & { rows: UsageRowView[] }> {
  const { values, spec, columns, currency, ...page } = await queryValuesPage(db, args, limits)
  return { ...page, rows: values.map(usageRowViews(spec, columns, currency)) }
}

/** The page from the cursor's snapshot, when it is still held and covers the whole page. */
function snapshotPage(tenantId: string, hash: string, cursor: Cursor, first: number): ValuesPage | undefined {
  if (!cursor.snapshot) return undefined
  const snap = pageSnapshots.get(cursor.snapshot, tenantId, hash)
  if (!snap) return undefined
  const { spec, columns, totals, groupCount, currency, sources } = snap.extra
  const from = cursor.offset - snap.start
  const end = Math.min(cursor.offset + first, groupCount)
  if (from < 0 || end > snap.start + snap.rows.length) return undefined
  const values = snap.rows.slice(from, end - snap.start)
  const next = cursor.offset + values.length
  return {
    values,
    spec,
    columns,
    currency,
    totals,
    groupCount,
    hasNextPage: next < groupCount,
    sources,
    endCursor: values.length || next < groupCount ? encodeCursor(next, hash, cursor.asOf, cursor.snapshot, lastKey(spec, columns, values, cursor)) : null,
  }
}

/** The key for the next page's cursor: the last row's, or the cursor's own after an empty page. */
function lastKey(spec: SnapshotExtra['spec'], columns: readonly string[], values: RowValues[], cursor: Cursor | undefined): RowKey | undefined {
  const last = values.at(-1)
  return last ? keyOfValues(spec, columns, last) : (cursor?.key as RowKey | undefined)
}

async function runUsagePage(db: Db, args: UsageArgs, limits: UsageLimits): Promise<ValuesPage> {
  const hash = queryHash(args)
  const found = new ArgProblems()
  const cursor = checkCursor(args.after, hash, found)
  const cached = cursor && snapshotPage(args.tenantId, hash, cursor, args.first)
  if (cached) return cached
  const offset = cursor?.offset ?? 0
  const asOf = cursor?.asOf ?? pricingInstant(args.pricingAsOf, new Date())
  await checkTimeZone(db, args.timeZone, found)
  const card = found.orThrow(await lookupCard(db, args.tenantId, args.rateCard, found))
  const sources = selectSources(args.filter, args.groupBy, args.groupByLabels)
  const spec: UsageSpec = {
    tenantId: args.tenantId,
    from: args.from,
    to: args.to,
    window: args.window,
    timeZone: args.timeZone,
    groupBy: [...new Set(args.groupBy)],
    groupByLabels: [...new Set(args.groupByLabels)],
    groupByAttributes: [...new Set(args.groupByAttributes ?? [])],
    filter: args.filter,
    sources,
    pricing: { cardId: card.id, asOf },
    classes: args.classes ?? false,
    rollups: args.rollups ?? true,
  }
  const { following, followingBytes, columns, ...result } = await runUsage(db, spec, {
    offset,
    after: cursorKey(spec, cursor),
    first: args.first,
    followingBytes: pageSnapshots.entryBudget,
    maxGroups: limits.maxGroups,
    currency: card.currency,
    signal: limits.signal,
    onTooLarge: (groups) => tooManyGroups(groups, limits.maxGroups),
  })
  const { start, ...rest } = result
  const next = start + result.values.length
  const snapshot = following.length
    ? pageSnapshots.put({
      tenantId: args.tenantId,
      hash,
      start: next,
      rows: following,
      extra: { spec, columns, totals: result.totals, groupCount: result.groupCount, currency: card.currency, sources },
    }, followingBytes)
    : undefined
  return {
    ...rest, spec, columns, currency: card.currency, sources,
    endCursor: result.values.length || result.hasNextPage ? encodeCursor(next, hash, asOf, snapshot, lastKey(spec, columns, result.values, cursor)) : null,
  }
}
