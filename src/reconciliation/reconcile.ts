import { compareCodePoints } from '../code-point-order.js'
import { Decimal } from 'decimal.js'
import { normalizeDecimal } from '../decimal/decimal-text.js'
import { Exact } from '../decimal/exact.js'
import { RECON_DIMENSIONS, type ReconDimension, type ReconFact, type ReconRow, type ReconStatus, type ReconTotals } from './recon-types.js'

/**
 * The comparison itself, pure: facts of both sides in, reconciliation rows out.
 *
 * Billed rows are compared at the dimensions they carry (contract v2): dimensions are taken in the
 * fixed order PROVIDER, ACCOUNT, PROJECT, API_KEY, MODEL, LINE_ITEM; within each window and the values
 * fixed so far, a dimension is collapsed (null on the row, summed over) for both sides when any billed
 * row there lacks it. A cost export without line items therefore reconciles against the whole day's
 * computed cost, while an account that does report line items keeps them.
 */

// Sums of exact decimals stay exact: far more digits than any stored amount has.
const text = (d: Decimal) => normalizeDecimal(d.toFixed())

/** Ratios (derived unit prices) are rounded half-even to 12 places (contract v2 "Pricing, extended"). */
export function ratio(numerator: string, denominator: string, scale: number): string {
  return text(new Exact(numerator).times(scale).div(denominator).toDecimalPlaces(12, Decimal.ROUND_HALF_EVEN))
}

const FIELD: Record<ReconDimension, keyof ReconRow> = {
  PROVIDER: 'provider',
  ACCOUNT: 'accountId',
  PROJECT: 'projectId',
  API_KEY: 'apiKeyId',
  MODEL: 'model',
  LINE_ITEM: 'lineItem',
}

/** The grouped dimensions in collapse order; a line item is a model's item, so LINE_ITEM brings MODEL. */
function activeDimensions(groupBy: readonly ReconDimension[]): ReconDimension[] {
  const set = new Set(groupBy)
  if (set.has('LINE_ITEM')) set.add('MODEL')
  return RECON_DIMENSIONS.filter((d) => set.has(d))
}

function value(f: ReconFact, d: ReconDimension): string | null {
  switch (d) {
    case 'PROVIDER':
      return f.provider
    case 'ACCOUNT':
      return f.accountId
    case 'PROJECT':
      return f.projectId
    case 'API_KEY':
      return f.apiKeyId
    case 'MODEL':
      return f.model
    case 'LINE_ITEM':
      return f.item?.key ?? null
  }
}

/** Does this billed row lack dimension `d`? A model-less line item is an (unmapped) item, not a missing model. */
function lacks(f: ReconFact, d: ReconDimension, lineItems: boolean): boolean {
  if (d === 'MODEL') return f.model === null && !(lineItems && f.item !== null)
  return value(f, d) === null
}

interface Group {
  row: ReconRow
  computed: Decimal | null
  billed: Decimal | null
  priced: Decimal
  unpricedQuantity: boolean
  perUnit: boolean
  quantity: Decimal | null
  quantityKnown: boolean
  quantityUnit: string | null
  pricedItem: boolean
  itemFromBilled: boolean
}

function status(g: Group, tolerance: Decimal): ReconStatus {
  if (g.computed === null) return 'BILLED_ONLY'
  if (g.billed === null) return 'COMPUTED_ONLY'
  if (g.row.unpricedTokens > 0 || g.unpricedQuantity) return 'UNPRICED'
  return g.computed.minus(g.billed).abs().lte(tolerance) ? 'MATCH' : 'MISMATCH'
}

/** Unit prices per 1M tokens (per unit for resources) on MISMATCH line items whose billed quantity is known. */
function unitPrices(g: Group): void {
  if (g.row.status !== 'MISMATCH' || !g.pricedItem || !g.quantityKnown || g.quantity === null || g.quantity.isZero()) return
  const scale = g.perUnit ? 1 : 1_000_000
  g.row.billedUnitPrice = ratio(g.billed!.toFixed(), g.quantity.toFixed(), scale)
  if (g.priced.gt(0)) g.row.cardUnitPrice = ratio(g.computed!.toFixed(), g.priced.toFixed(), scale)
}

const compareNullable = (a: string | null, b: string | null) => (a === b ? 0 : a === null ? 1 : b === null ? -1 : compareCodePoints(a, b))

/**
 * The line item match key of each row that groups by one (reconcile's groups are keyed by it). The item's
 * text leaves parts of it out (the context tier): two rows can show the same text, and only this tells
 * them apart in the order and in a cursor.
 */
const itemKeys = new WeakMap<ReconRow, string>()

/**
 * A row's place in the order of the rows: its window start and end (epoch ms), every dimension's value,
 * then its line item's match key. The end tells apart rows of one start whose windows were joined
 * differently (one account's bills cross days, another's do not).
 */
export type ReconKey = [number, number, ...(string | null)[]]

export const reconKey = (row: ReconRow): ReconKey =>
  [row.windowStart.getTime(), row.windowEnd.getTime(), ...RECON_DIMENSIONS.map((d) => row[FIELD[d]] as string | null), itemKeys.get(row) ?? null]

/** Whether `key` has a ReconKey's shape and types (a cursor's key is client input). */
export const isReconKey = (key: unknown[]): key is ReconKey =>
  key.length === RECON_DIMENSIONS.length + 3 && Number.isSafeInteger(key[0]) && Number.isSafeInteger(key[1]) && key.slice(2).every((v) => v === null || typeof v === 'string')

/** Rows order by window start, then end, then by each dimension, nulls last. */
function compareKeys(a: ReconKey, b: ReconKey): number {
  const byTime = a[0] - b[0] || a[1] - b[1]
  if (byTime) return byTime
  for (let i = 2; i < a.length; i++) {
    const c = compareNullable(a[i] as string | null, b[i] as string | null)
    if (c) return c
  }
  return 0
}

/** The index of the first row (of rows in reconcile's order) after `key`. */
export function firstAfter(rows: readonly ReconRow[], key: ReconKey): number {
  let lo = 0
  let hi = rows.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (compareKeys(reconKey(rows[mid]!), key) <= 0) lo = mid + 1
    else hi = mid
  }
  return lo
}

/**
 * Windows a bill crosses, joined (contract v2 extended, README "Reconciliation"): a bill is never split —
 * a pro-rata share of money is a number nobody billed — so a bill whose period does not fit in one
 * window (a day in another zone, 08:00Z to 08:00Z, in UTC days) joins every window it touches into one
 * row window, and both sides are summed over it. Windows no bill crosses stay as they are. Every fact
 * takes its joined window, cut to the range that was read (`range`: both sides cover exactly it).
 *
 * Windows are joined within a bill's scope, its provider account: one account billed in Pacific days
 * merged every other account's UTC days into its rows. A provider any of whose facts has no account
 * (usage or bills posted without one) is one scope, as its accounts cannot be told apart. Computed facts
 * must then carry their account (the service reads them by account when a bill crosses a window).
 */
export function joinCrossedWindows(facts: readonly ReconFact[], range: { from: Date; to: Date }): ReconFact[] {
  if (!facts.some((f) => f.periodEnd !== undefined && f.periodEnd.getTime() > f.windowEnd.getTime())) return [...facts]
  const providerWide = new Set(facts.filter((f) => f.accountId === null).map((f) => f.provider))
  const scopes = new Map<string, number[]>()
  facts.forEach((f, i) => {
    const scope = providerWide.has(f.provider) ? JSON.stringify([f.provider]) : JSON.stringify([f.provider, f.accountId])
    const list = scopes.get(scope)
    if (list) list.push(i)
    else scopes.set(scope, [i])
  })
  const out = [...facts]
  for (const indexes of scopes.values()) {
    const joined = joinScope(indexes.map((i) => facts[i]!), range)
    indexes.forEach((i, k) => (out[i] = joined[k]!))
  }
  return out
}

/** The windows of one scope's facts joined where its bills cross them. */
function joinScope(facts: readonly ReconFact[], range: { from: Date; to: Date }): ReconFact[] {
  const spans = facts.map((f) => {
    const end = f.windowEnd.getTime()
    const billedEnd = f.periodEnd?.getTime() ?? end
    return { start: f.windowStart.getTime(), end: Math.max(end, billedEnd), crossed: billedEnd > end }
  })
  if (!spans.some((s) => s.crossed)) return [...facts]
  // The union of overlapping spans; windows that only touch (one's end the next one's start) stay apart.
  const joined: { start: number; end: number; crossed: boolean }[] = []
  for (const s of [...spans].sort((a, b) => a.start - b.start || a.end - b.end)) {
    const last = joined.at(-1)
    if (last && s.start < last.end) {
      last.end = Math.max(last.end, s.end)
      last.crossed ||= s.crossed
    } else joined.push({ ...s })
  }
  const [from, to] = [range.from.getTime(), range.to.getTime()]
  // A window no bill crosses keeps its own bounds (as without any crossing); a joined one is cut to the range.
  const windows = joined.map((j) => ({
    start: j.start,
    windowStart: new Date(j.crossed ? Math.max(j.start, from) : j.start),
    windowEnd: new Date(j.crossed ? Math.min(j.end, to) : j.end),
  }))
  return facts.map((f, i) => {
    const start = spans[i]!.start
    // The last joined span that starts at or before the fact's window.
    let lo = 0
    let hi = windows.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if (windows[mid]!.start <= start) lo = mid
      else hi = mid - 1
    }
    const w = windows[lo]!
    return { ...f, windowStart: w.windowStart, windowEnd: w.windowEnd }
  })
}

export function reconcile(facts: readonly ReconFact[], groupBy: readonly ReconDimension[], tolerance: string): { rows: ReconRow[]; totals: ReconTotals } {
  const dims = activeDimensions(groupBy)
  const lineItems = dims.includes('LINE_ITEM')
  // A window is its start and end: windows joined in one account's scope and not in another's can share a start.
  const prefix = facts.map((f) => `${f.windowStart.getTime()}-${f.windowEnd.getTime()}`)
  const values = facts.map(() => ({}) as Partial<Record<ReconDimension, string | null>>)
  for (const d of dims) {
    const collapsed = new Set<string>()
    facts.forEach((f, i) => {
      if (f.side === 'billed' && lacks(f, d, lineItems)) collapsed.add(prefix[i]!)
    })
    facts.forEach((f, i) => {
      const v = collapsed.has(prefix[i]!) ? null : value(f, d)
      values[i]![d] = v
      prefix[i] += v === null ? '\u0000-' : `\u0000=${v}`
    })
  }

  const groups = new Map<string, Group>()
  facts.forEach((f, i) => {
    let g = groups.get(prefix[i]!)
    if (!g) {
      const v = values[i]!
      const row: ReconRow = {
        windowStart: f.windowStart,
        windowEnd: f.windowEnd,
        provider: v.PROVIDER ?? null,
        accountId: v.ACCOUNT ?? null,
        projectId: v.PROJECT ?? null,
        apiKeyId: v.API_KEY ?? null,
        model: v.MODEL ?? null,
        lineItem: null,
        computed: null,
        billed: null,
        difference: null,
        status: 'MATCH',
        unpricedTokens: 0,
        complete: true,
        billedUnitPrice: null,
        cardUnitPrice: null,
      }
      g = { row, computed: null, billed: null, priced: new Exact(0), unpricedQuantity: false, perUnit: f.item?.perUnit === true, quantity: null, quantityKnown: true, quantityUnit: null, pricedItem: v.LINE_ITEM != null && f.item?.priced === true, itemFromBilled: false }
      if (v.LINE_ITEM != null) itemKeys.set(row, v.LINE_ITEM)
      groups.set(prefix[i]!, g)
    }
    // The billed side names the item as the provider wrote it; the computed side only when nothing was billed.
    if (values[i]!.LINE_ITEM != null && f.item && !g.itemFromBilled && (g.row.lineItem === null || f.side === 'billed')) {
      g.row.lineItem = f.item.text
      g.itemFromBilled = f.side === 'billed'
    }
    if (f.side === 'computed') {
      g.computed = (g.computed ?? new Exact(0)).plus(f.amount)
      g.row.unpricedTokens += f.unpricedTokens
      g.unpricedQuantity ||= f.unpricedQuantity
      if (f.priced !== null) g.priced = g.priced.plus(f.priced)
    } else {
      g.billed = (g.billed ?? new Exact(0)).plus(f.amount)
      if (f.quantity === null) g.quantityKnown = false
      else g.quantity = (g.quantity ?? new Exact(0)).plus(f.quantity)
      // Quantities in different units do not add up to one quantity.
      if (g.quantityUnit !== null && f.quantityUnit !== null && f.quantityUnit !== g.quantityUnit) g.quantityKnown = false
      g.quantityUnit ??= f.quantityUnit
    }
  })

  const tol = new Exact(tolerance)
  let computed = new Exact(0)
  let billed = new Exact(0)
  let unpriced = 0
  let complete = true
  const rows: ReconRow[] = []
  for (const g of groups.values()) {
    g.row.status = status(g, tol)
    // Unpriced resource quantities are not in unpricedTokens: without this a group of them nothing was
    // billed for read computed "0", COMPUTED_ONLY, 0 unpriced tokens — a bare $0.
    g.row.complete = g.row.unpricedTokens === 0 && !g.unpricedQuantity
    complete &&= g.row.complete
    g.row.computed = g.computed && text(g.computed)
    g.row.billed = g.billed && text(g.billed)
    if (g.computed && g.billed) g.row.difference = text(g.computed.minus(g.billed))
    unitPrices(g)
    computed = computed.plus(g.computed ?? 0)
    billed = billed.plus(g.billed ?? 0)
    unpriced += g.row.unpricedTokens
    rows.push(g.row)
  }
  // Each row's key built once, not twice per comparison.
  const sorted = rows.map((row) => ({ row, key: reconKey(row) })).sort((a, b) => compareKeys(a.key, b.key)).map((r) => r.row)
  return { rows: sorted, totals: { computed: text(computed), billed: text(billed), difference: text(computed.minus(billed)), unpricedTokens: unpriced, complete } }
}
