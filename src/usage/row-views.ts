import { normalizeDecimal } from '../decimal/decimal-text.js'
import { DIMENSIONS, type ColumnDimension } from './dimensions.js'
import type { Cost, ResourceQuantity, RowValues, UsageRow } from './run-usage.js'
import type { UsageSpec } from './usage-sql.js'

/**
 * Usage rows for GraphQL, mapped on demand (docs/performance.md "Per-page output"). A page of 1,000 rows
 * mapped every figure of every row (`toUsageRow`: Dates, seven decimal normalisations, a Cost object)
 * whether the query selected it or not; that was the largest part of a snapshot-served page. A view
 * keeps the row's shipped values (`pageColumns` order) and computes a field only when GraphQL reads it,
 * with exactly `toUsageRow`'s mapping (test/usage/row-views.test.ts compares every field on real results).
 *
 * Views are read through their properties only: the fields are prototype getters, so spreading one or
 * `JSON.stringify` sees nothing. Everything else (REST, budgets, reconciliation) keeps `toUsageRow`.
 */

/** The fields of a usage row that GraphQL serves (UsageRow in schema/usage.graphql). */
export type UsageRowView = Readonly<Omit<UsageRow, 'classes' | 'storageByteSeconds'>>

const money = (v: unknown) => normalizeDecimal((v as string | null) ?? '0')

/** Where one page's values sit: an index into RowValues per column, -1 when the column is not shipped. */
class Layout {
  readonly windowStart: number
  readonly windowEnd: number
  readonly modality: number
  readonly quantity: number
  readonly requests: number
  readonly inputTokens: number
  readonly outputTokens: number
  readonly cachedInputTokens: number
  readonly uncachedInputTokens: number
  readonly cacheWriteTokens: number
  readonly cacheWrite1hTokens: number
  readonly reportedCost: number
  readonly costTotal: number
  readonly costInput: number
  readonly costCachedInput: number
  readonly costCacheWrite: number
  readonly costOutput: number
  readonly costResources: number
  readonly unpricedTokens: number
  readonly unpricedQuantity: number
  /** Row field → value index, for the grouped column dimensions only (the others are null). */
  readonly dimensions: Map<string, number>
  readonly labels: { key: string; index: number }[] | null
  readonly attributes: { key: string; index: number }[] | null

  constructor(
    spec: Pick<UsageSpec, 'groupBy' | 'groupByLabels' | 'groupByAttributes'>,
    columns: readonly string[],
    readonly currency: string,
  ) {
    const at = (name: string) => columns.indexOf(name)
    this.windowStart = at('window_start')
    this.windowEnd = at('window_end')
    this.modality = at('modality')
    this.quantity = at('quantity')
    this.requests = at('requests')
    this.inputTokens = at('input_tokens')
    this.outputTokens = at('output_tokens')
    this.cachedInputTokens = at('cached_input_tokens')
    this.uncachedInputTokens = at('uncached_input_tokens')
    this.cacheWriteTokens = at('cache_write_tokens')
    this.cacheWrite1hTokens = at('cache_write_1h_tokens')
    this.reportedCost = at('reported_cost')
    this.costTotal = at('cost_total')
    this.costInput = at('cost_input')
    this.costCachedInput = at('cost_cached_input')
    this.costCacheWrite = at('cost_cache_write')
    this.costOutput = at('cost_output')
    this.costResources = at('cost_resources')
    this.unpricedTokens = at('unpriced_tokens')
    this.unpricedQuantity = at('unpriced_quantity')
    this.dimensions = new Map(
      spec.groupBy.filter((d): d is ColumnDimension => d !== 'MODALITY').map((d) => [DIMENSIONS[d].field, at(DIMENSIONS[d].column)]),
    )
    this.labels = spec.groupByLabels.length ? spec.groupByLabels.map((key, i) => ({ key, index: at(`label_${i}`) })) : null
    this.attributes = spec.groupByAttributes?.length ? spec.groupByAttributes.map((key, i) => ({ key, index: at(`attr_${i}`) })) : null
  }
}

/** A value of the row; undefined when the column is not shipped (as a missing key of a RawUsageRow). */
const value = (v: RowValues, i: number): unknown => (i < 0 ? undefined : v[i])

class CostView implements Cost {
  constructor(
    private readonly v: RowValues,
    private readonly l: Layout,
  ) {}

  get total() { return money(value(this.v, this.l.costTotal)) }
  get input() { return money(value(this.v, this.l.costInput)) }
  get cachedInput() { return money(value(this.v, this.l.costCachedInput)) }
  get cacheWrite() { return money(value(this.v, this.l.costCacheWrite)) }
  get output() { return money(value(this.v, this.l.costOutput)) }
  get resources() { return money(value(this.v, this.l.costResources)) }
  get currency() { return this.l.currency }
  get unpricedTokens() { return (value(this.v, this.l.unpricedTokens) as number | null | undefined) ?? 0 }
  get unpricedQuantity(): ResourceQuantity[] {
    const list = (value(this.v, this.l.unpricedQuantity) as ResourceQuantity[] | null | undefined) ?? []
    return list.map((u) => ({ resource: u.resource, quantity: money(u.quantity) }))
  }

  get complete() {
    const list = value(this.v, this.l.unpricedQuantity) as unknown[] | null | undefined
    return this.unpricedTokens === 0 && (list ?? []).length === 0
  }
}

const count = (v: RowValues, i: number) => (value(v, i) as number | null | undefined) ?? 0
const dimensionGetter = (field: string) =>
  function (this: RowView) {
    const i = this.l.dimensions.get(field)
    return i === undefined ? null : (value(this.v, i) ?? null)
  }

class RowView {
  constructor(
    readonly v: RowValues,
    readonly l: Layout,
  ) {}

  get windowStart() { return new Date(value(this.v, this.l.windowStart) as string) }
  get windowEnd() { return new Date(value(this.v, this.l.windowEnd) as string) }
  get modality() { return (value(this.v, this.l.modality) as string | null | undefined) ?? null }
  get quantity() {
    const q = value(this.v, this.l.quantity)
    return typeof q === 'string' ? normalizeDecimal(q) : null
  }

  get labels() { return this.l.labels?.map(({ key, index }) => ({ key, value: (value(this.v, index) as string | null | undefined) ?? null })) ?? null }
  get attributes() { return this.l.attributes?.map(({ key, index }) => ({ key, value: (value(this.v, index) as string | null | undefined) ?? null })) ?? null }
  get requests() { return value(this.v, this.l.requests) as number | null }
  get inputTokens() { return count(this.v, this.l.inputTokens) }
  get outputTokens() { return count(this.v, this.l.outputTokens) }
  get cachedInputTokens() { return count(this.v, this.l.cachedInputTokens) }
  get uncachedInputTokens() { return count(this.v, this.l.uncachedInputTokens) }
  get cacheWriteTokens() { return count(this.v, this.l.cacheWriteTokens) }
  get cacheWrite1hTokens() { return count(this.v, this.l.cacheWrite1hTokens) }
  get reportedCost() {
    const c = value(this.v, this.l.reportedCost)
    return c === null ? null : normalizeDecimal(c as string)
  }

  get cost(): Cost { return new CostView(this.v, this.l) }
}

// One getter per dimension field on the prototype (one hidden class for every page's views).
for (const { field } of Object.values(DIMENSIONS)) Object.defineProperty(RowView.prototype, field, { get: dimensionGetter(field), enumerable: false })

/** Maps one page's shipped rows (values in `columns` order) to views; build it once per page. */
export function usageRowViews(
  spec: Pick<UsageSpec, 'groupBy' | 'groupByLabels' | 'groupByAttributes'>,
  columns: readonly string[],
  currency: string,
): (values: RowValues) => UsageRowView {
  const layout = new Layout(spec, columns, currency)
  return (values) => new RowView(values, layout) as unknown as UsageRowView
}
