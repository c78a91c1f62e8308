import type { Db } from '../db/client.js'
import { UsageInputError } from '../errors.js'
import { MAX_DECIMAL_TEXT, PLAIN_DECIMAL } from '../decimal/decimal-text.js'
import { DAY_MS, MAX_UNIX_SECONDS } from '../time/instant.js'
import { badCursor } from '../pagination/cursor.js'
import { pricingInstant } from '../pricing/as-of.js'
import { checkCursor, encodeCursor, findUsageArgProblems, lookupCard, pageSnapshots, queryHash, type UsageLimits } from '../usage/usage-service.js'
import { SnapshotCache } from '../usage/page-snapshots.js'
import { ArgProblems } from '../usage/arg-problems.js'
import { billedFacts, billedRange } from './billed-facts.js'
import { computedFacts } from './computed-facts.js'
import { firstAfter, isReconKey, joinCrossedWindows, reconcile, reconKey, type ReconKey } from './reconcile.js'
import { RECON_DIMENSIONS, RECON_WINDOWS, type ReconArgs, type ReconPage, type ReconRow, type ReconTotals, type ReconWindow } from './recon-types.js'

/**
 * GraphQL `reconciliation` and REST `GET /v1/reconciliation`: the ledger's computed cost beside what
 * providers billed, per window and dimension, with a status per row. Both sides are read whole for
 * the range (bounded by the windows × groups limit), compared, then paged: a row's status depends on
 * every billed row of its window, so the comparison cannot be paged in SQL.
 */

/**
 * The rows after a first page, kept for the later pages (as usage's page snapshots, under the same
 * USAGE_PAGE_CACHE_* bounds): pages are one comparison. Recomputed per page, a bill posted between two
 * pages changed the rows under the cursor — a billed row without a project, of any account, collapses
 * the day's projects into one null row, which the next page then listed beside the projects page 1 had.
 */
const reconSnapshots = new SnapshotCache<ReconRow, { totals: ReconTotals; sources: string[] }>()

/** The checks that need no database, adding every problem to `found` (by GraphQL's argument names). */
function findReconArgProblems(args: ReconArgs, maxGroups: number, found: ArgProblems): ReconWindow | undefined {
  const window = (RECON_WINDOWS as readonly string[]).includes(args.window) ? (args.window as ReconWindow) : undefined
  if (!window) found.add('window', `reconciliation windows are ${RECON_WINDOWS.join(', ')} in UTC only (billed costs are UTC days); got ${args.window}`)
  const unknown = args.groupBy.filter((d) => !(RECON_DIMENSIONS as readonly string[]).includes(d))
  if (unknown.length) found.add('groupBy', `unknown dimension(s) ${unknown.join(', ')}; known: ${RECON_DIMENSIONS.join(', ')}`)
  // The one check of `tolerance` for both faces: REST's query schema capped its length and GraphQL's
  // Decimal scalar did not, so 101 digits were a 400 over REST and a page over GraphQL.
  if (typeof args.tolerance !== 'string' || args.tolerance.length > MAX_DECIMAL_TEXT || !PLAIN_DECIMAL.test(args.tolerance))
    found.add('tolerance', `\`tolerance\` must be a decimal ≥ 0 in plain notation of at most ${MAX_DECIMAL_TEXT} characters, such as "0.000001"`)
  findUsageArgProblems({ from: args.from, to: args.to, first: args.first, filter: args.filter, window }, maxGroups, found)
  return window
}

/**
 * The range widened to the whole UTC days it touches. Billed costs are UTC days placed by their start: a
 * range starting mid-day left that day's bill out while its usage after `from` was counted (a false
 * COMPUTED_ONLY), and one ending mid-day set a whole day's bill against part of its usage (a false
 * MISMATCH). The end is capped at the last instant any entry point accepts.
 */
function wholeUtcDays(from: Date, to: Date): { from: Date; to: Date } {
  return {
    from: new Date(Math.floor(from.getTime() / DAY_MS) * DAY_MS),
    to: new Date(Math.min(Math.ceil(to.getTime() / DAY_MS) * DAY_MS, MAX_UNIX_SECONDS * 1000 + 999)),
  }
}

function cursorKey(key: unknown[]): ReconKey {
  if (isReconKey(key)) return key
  throw badCursor()
}

/** The checks that need no database and the cursor; what the page needs before anything is read. */
function checked(args: ReconArgs, maxGroups: number) {
  const found = new ArgProblems()
  const checkedWindow = findReconArgProblems(args, maxGroups, found)
  const hashed = { ...args, query: 'reconciliation' }
  const hash = queryHash(hashed)
  const cursor = checkCursor(args.after, hash, found)
  // The key is client input whether the page comes from a snapshot or is computed afresh.
  if (cursor?.key) found.try(() => cursorKey(cursor.key!))
  return { found, checkedWindow, hash, cursor }
}

/**
 * Both sides of the range read and compared once: every row, in order, and what the page needs to slice it.
 * The reads are one snapshot (a repeatable-read transaction): read in separate statements, a usage ingest
 * and then a revised bill committed between them were half seen — the new bill against the old usage, a
 * MISMATCH of a state the ledger never was in. The tenant's slot is taken before the transaction opens,
 * so a read waiting for it holds no pooled connection.
 */
async function reconciled(db: Db, args: ReconArgs, limits: UsageLimits, pre = checked(args, limits.maxGroups)) {
  if (!limits.gate) return reconciledIn(db, args, limits, pre)
  return limits.gate.run(args.tenantId, () => reconciledIn(db, args, { ...limits, gate: undefined }, pre))
}

async function reconciledIn(db: Db, args: ReconArgs, limits: UsageLimits, { found, checkedWindow, hash, cursor }: ReturnType<typeof checked>) {
  return db.transaction(async (tx) => {
    await tx.query('set transaction isolation level repeatable read, read only')
    await lookupCard(tx, args.tenantId, args.rateCard, found)
    const window = found.orThrow(checkedWindow)
    const asOf = cursor?.asOf ?? pricingInstant(args.pricingAsOf, new Date())
    const groupBy = [...new Set(args.groupBy)]
    const days = wholeUtcDays(args.from, args.to)
    const range = await billedRange(tx, { tenantId: args.tenantId, ...days, filter: args.filter, signal: limits.signal })
    const billed = await billedFacts(tx, {
      tenantId: args.tenantId,
      ...range,
      window,
      filter: args.filter,
      maxGroups: limits.maxGroups,
      signal: limits.signal,
      onTooLarge: (n) =>
        new UsageInputError('groupBy', `the range holds ${n} billed groups, more than the limit of ${limits.maxGroups}; narrow the range or use a larger window`),
    })
    // Windows are joined per provider account (joinCrossedWindows): when a bill crosses a window, usage is
    // read by account too, so each account's usage takes its own account's windows.
    const byAccount = billed.some((f) => f.periodEnd !== undefined && f.periodEnd.getTime() > f.windowEnd.getTime())
    const computed = await computedFacts(tx, { ...args, ...range, window, groupBy, asOf, byAccount }, limits)
    return { ...reconcile(joinCrossedWindows([...computed.facts, ...billed], range), groupBy, args.tolerance), sources: computed.sources, asOf, hash, cursor }
  })
}

/** The page from the cursor's snapshot, when it is still held and the cursor's offset is within it. */
function snapshotPage(args: ReconArgs, hash: string, cursor: ReturnType<typeof checkCursor>): ReconPage | undefined {
  const snap = cursor?.snapshot ? reconSnapshots.get(cursor.snapshot, args.tenantId, hash) : undefined
  if (!cursor || !snap) return undefined
  const from = cursor.offset - snap.start
  if (from < 0 || from > snap.rows.length) return undefined
  const page = snap.rows.slice(from, from + args.first)
  const next = cursor.offset + page.length
  const hasNextPage = from + page.length < snap.rows.length
  const key = page.length ? reconKey(page.at(-1)!) : (cursor.key as ReconKey | undefined)
  return {
    rows: page, totals: snap.extra.totals, hasNextPage, sources: snap.extra.sources, pricingAsOf: cursor.asOf,
    endCursor: page.length || hasNextPage ? encodeCursor(next, hash, cursor.asOf, cursor.snapshot, key) : null,
  }
}

export async function queryReconciliationPage(db: Db, args: ReconArgs, limits: UsageLimits): Promise<ReconPage> {
  const pre = checked(args, limits.maxGroups)
  // A later page that names a held snapshot is served from it (the same argument checks passed first).
  const cached = !pre.found.any ? snapshotPage(args, pre.hash, pre.cursor) : undefined
  if (cached) return cached
  const { rows, totals, sources, asOf, hash, cursor } = await reconciled(db, args, limits, pre)
  const offset = cursor?.offset ?? 0
  // Without its snapshot (expired, evicted, another instance) a page is computed afresh: it starts after
  // the previous page's last row, so rows added or removed before it meanwhile neither repeat a row nor
  // skip one (as an offset did); a bill that changes the grouping meanwhile still changes the rows.
  const start = cursor?.key ? firstAfter(rows, cursorKey(cursor.key)) : offset
  const page = rows.slice(start, start + args.first)
  const next = offset + page.length
  const hasNextPage = start + page.length < rows.length
  const last = page.at(-1)
  const key = last ? reconKey(last) : (cursor?.key as ReconKey | undefined)
  reconSnapshots.limits = pageSnapshots.limits
  const snapshot = hasNextPage ? reconSnapshots.put({ tenantId: args.tenantId, hash, start: next, rows: rows.slice(start + page.length), extra: { totals, sources } }) : undefined
  return { rows: page, totals, hasNextPage, endCursor: page.length || hasNextPage ? encodeCursor(next, hash, asOf, snapshot, key) : null, sources, pricingAsOf: asOf }
}

/**
 * Every row of the range from one read of both sides (REST's CSV, which has no pages; `first` and
 * `after` are not used). Walked page by page, the export read and compared the whole range again for
 * every 1,000 rows, and a bill posted meanwhile could change the rows between two of its pages.
 */
export async function queryReconciliationRows(db: Db, args: ReconArgs, limits: UsageLimits): Promise<Pick<ReconPage, 'rows' | 'sources'>> {
  const { rows, sources } = await reconciled(db, { ...args, first: 0, after: undefined }, limits)
  return { rows, sources }
}
