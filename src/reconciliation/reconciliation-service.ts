import type { Db } from '../db/client.js'
import { UsageInputError } from '../errors.js'
import { MAX_DECIMAL_TEXT, PLAIN_DECIMAL } from '../decimal/decimal-text.js'
import { MAX_UNIX_SECONDS } from '../time/instant.js'
import { badCursor } from '../pagination/cursor.js'
import { pricingInstant } from '../pricing/as-of.js'
import { checkCursor, encodeCursor, findUsageArgProblems, lookupCard, queryHash, type UsageLimits } from '../usage/usage-service.js'
import { ArgProblems } from '../usage/arg-problems.js'
import { billedFacts } from './billed-facts.js'
import { computedFacts } from './computed-facts.js'
import { firstAfter, isReconKey, reconcile, reconKey, type ReconKey } from './reconcile.js'
import { RECON_DIMENSIONS, RECON_WINDOWS, type ReconArgs, type ReconPage, type ReconWindow } from './recon-types.js'

/**
 * GraphQL `reconciliation` and REST `GET /v1/reconciliation`: the ledger's computed cost beside what
 * providers billed, per window and dimension, with a status per row. Both sides are read whole for
 * the range (bounded by the windows × groups limit), compared, then paged: a row's status depends on
 * every billed row of its window, so the comparison cannot be paged in SQL.
 */

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

const DAY_MS = 86_400_000

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

/** Both sides of the range read and compared once: every row, in order, and what the page needs to slice it. */
async function reconciled(db: Db, args: ReconArgs, limits: UsageLimits) {
  const found = new ArgProblems()
  const checkedWindow = findReconArgProblems(args, limits.maxGroups, found)
  const hashed = { ...args, query: 'reconciliation' }
  const hash = queryHash(hashed)
  const cursor = checkCursor(args.after, hash, found)
  await lookupCard(db, args.tenantId, args.rateCard, found)
  const window = found.orThrow(checkedWindow)
  const asOf = cursor?.asOf ?? pricingInstant(args.pricingAsOf, new Date())
  const groupBy = [...new Set(args.groupBy)]
  const range = wholeUtcDays(args.from, args.to)
  const computed = await computedFacts(db, { ...args, ...range, window, groupBy, asOf }, limits)
  const billed = await billedFacts(db, {
    tenantId: args.tenantId,
    ...range,
    window,
    filter: args.filter,
    maxGroups: limits.maxGroups,
    signal: limits.signal,
    onTooLarge: (n) =>
      new UsageInputError('groupBy', `the range holds ${n} billed groups, more than the limit of ${limits.maxGroups}; narrow the range or use a larger window`),
  })
  return { ...reconcile([...computed.facts, ...billed], groupBy, args.tolerance), sources: computed.sources, asOf, hash, cursor }
}

export async function queryReconciliationPage(db: Db, args: ReconArgs, limits: UsageLimits): Promise<ReconPage> {
  const { rows, totals, sources, asOf, hash, cursor } = await reconciled(db, args, limits)
  const offset = cursor?.offset ?? 0
  // Every page is computed afresh: it starts after the previous page's last row, so rows added or removed
  // before it meanwhile neither repeat a row nor skip one (as an offset did).
  const start = cursor?.key ? firstAfter(rows, cursorKey(cursor.key)) : offset
  const page = rows.slice(start, start + args.first)
  const next = offset + page.length
  const hasNextPage = start + page.length < rows.length
  const last = page.at(-1)
  const key = last ? reconKey(last) : (cursor?.key as ReconKey | undefined)
  return { rows: page, totals, hasNextPage, endCursor: page.length || hasNextPage ? encodeCursor(next, hash, asOf, undefined, key) : null, sources, pricingAsOf: asOf }
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
