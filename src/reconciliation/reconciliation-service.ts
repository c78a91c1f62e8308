import type { Db } from '../db/client.js'
import { UsageInputError } from '../errors.js'
import { PLAIN_DECIMAL } from '../decimal/decimal-text.js'
import { checkCursor, encodeCursor, findUsageArgProblems, lookupCard, queryHash, type UsageLimits } from '../usage/usage-service.js'
import { ArgProblems } from '../usage/arg-problems.js'
import { billedFacts } from './billed-facts.js'
import { computedFacts } from './computed-facts.js'
import { reconcile } from './reconcile.js'
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
  if (typeof args.tolerance !== 'string' || !PLAIN_DECIMAL.test(args.tolerance))
    found.add('tolerance', '`tolerance` must be a decimal ≥ 0 in plain notation, such as "0.000001"')
  findUsageArgProblems({ from: args.from, to: args.to, first: args.first, filter: args.filter, window }, maxGroups, found)
  return window
}

export async function queryReconciliationPage(db: Db, args: ReconArgs, limits: UsageLimits): Promise<ReconPage> {
  const found = new ArgProblems()
  const checkedWindow = findReconArgProblems(args, limits.maxGroups, found)
  const hashed = { ...args, query: 'reconciliation' }
  const hash = queryHash(hashed)
  const cursor = checkCursor(args.after, hash, found)
  await lookupCard(db, args.tenantId, args.rateCard, found)
  const window = found.orThrow(checkedWindow)
  const offset = cursor?.offset ?? 0
  const asOf = cursor?.asOf ?? args.pricingAsOf ?? new Date()
  const groupBy = [...new Set(args.groupBy)]
  const computed = await computedFacts(db, { ...args, window, groupBy, asOf }, limits)
  const billed = await billedFacts(db, {
    tenantId: args.tenantId,
    from: args.from,
    to: args.to,
    window,
    filter: args.filter,
    maxGroups: limits.maxGroups,
    signal: limits.signal,
    onTooLarge: (n) =>
      new UsageInputError('groupBy', `the range holds ${n} billed groups, more than the limit of ${limits.maxGroups}; narrow the range or use a larger window`),
  })
  const { rows, totals } = reconcile([...computed.facts, ...billed], groupBy, args.tolerance)
  const page = rows.slice(offset, offset + args.first)
  const next = offset + page.length
  const hasNextPage = next < rows.length
  return { rows: page, totals, hasNextPage, endCursor: page.length || hasNextPage ? encodeCursor(next, hash, asOf) : null, sources: computed.sources, pricingAsOf: asOf }
}
