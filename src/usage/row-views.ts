import { normalizeDecimal } from '../decimal/decimal-text.js'
import { UNPRICED_BY_COST } from '../db/token-columns.js'
import { DIMENSIONS, type ColumnDimension } from './dimensions.js'
import type { Cost, ResourceQuantity, RowValues, UsageRow, UsageTotals } from './run-usage.js'
import type { UsageSpec } from './usage-sql.js'

/**
 * The one mapping from what the usage statement returns (columns: counts as numbers, money as text) to
 * the fields of a UsageRow, its Cost and the totals: each field once, in the tables below, with how its
 * value is read. GraphQL reads rows as views that apply a field's mapping only when it reads the field
 * (docs/performance.md "Per-page output": mapping every figure of a 1,000-row page whether a query
 * selected it or not was the largest part of a snapshot-served page); everything else (REST, budgets,
 * reconciliation) and the totals read plain objects, which are views with every field read once
 * (`materialize`). So the two cannot disagree.
 *
 * Views are read through their properties only: the fields are prototype getters, so spreading one or
 * `JSON.stringify` sees nothing.
 */

/** The fields of a usage row that GraphQL serves (UsageRow in schema/usage.graphql). */
export type UsageRowView = Readonly<Omit<UsageRow, 'classes' | 'storageByteSeconds'>>

/** Reads one returned value (undefined when the column is not returned) as a field's value. */
type Read = (v: unknown) => unknown
const count: Read = (v) => (v as number | null | undefined) ?? 0
const nullable: Read = (v) => v ?? null
/** Money is never absent: a sum over nothing is 0. */
export const money = (v: unknown): string => normalizeDecimal((v as string | null | undefined) ?? '0')
const decimal: Read = (v) => (typeof v === 'string' ? normalizeDecimal(v) : null)
const instant: Read = (v) => new Date(v as string)
const quantities: Read = (v) => ((v as ResourceQuantity[] | null | undefined) ?? []).map((u) => ({ resource: u.resource, quantity: money(u.quantity) }))

type Fields = Record<string, readonly [column: string, read: Read]>

/** UsageTotals' fields but `cost` (a row has them too). */
const TOTAL_FIELDS = {
  requests: ['requests', nullable],
  inputTokens: ['input_tokens', count],
  outputTokens: ['output_tokens', count],
  cachedInputTokens: ['cached_input_tokens', count],
  uncachedInputTokens: ['uncached_input_tokens', count],
  cacheWriteTokens: ['cache_write_tokens', count],
  cacheWrite1hTokens: ['cache_write_1h_tokens', count],
  reportedCost: ['reported_cost', decimal],
} as const satisfies Fields

/** Cost's fields but `currency` and `complete` (derived below). */
const COST_FIELDS = {
  total: ['cost_total', money],
  input: ['cost_input', money],
  cachedInput: ['cost_cached_input', money],
  cacheWrite: ['cost_cache_write', money],
  output: ['cost_output', money],
  resources: ['cost_resources', money],
  unpricedTokens: ['unpriced_tokens', count],
  unpricedQuantity: ['unpriced_quantity', quantities],
} as const satisfies Fields

/** A row's own fields besides the totals' (dimensions, labels and attributes depend on the query). */
const ROW_FIELDS = {
  windowStart: ['window_start', instant],
  windowEnd: ['window_end', instant],
  modality: ['modality', nullable],
  quantity: ['quantity', decimal],
} as const satisfies Fields

/** What a query returns where: the grouped dimensions, labels and attributes, and the currency. */
class Shape {
  /** Row field → column, for the grouped column dimensions only (the others are null). */
  readonly dimensions: Map<string, string>
  readonly labels: { key: string; column: string }[] | null
  readonly attributes: { key: string; column: string }[] | null

  constructor(
    spec: Pick<UsageSpec, 'groupBy' | 'groupByLabels' | 'groupByAttributes'>,
    readonly currency: string,
  ) {
    this.dimensions = new Map(
      spec.groupBy.filter((d): d is ColumnDimension => d !== 'MODALITY').map((d) => [DIMENSIONS[d].field, DIMENSIONS[d].column]),
    )
    this.labels = spec.groupByLabels.length ? spec.groupByLabels.map((key, i) => ({ key, column: `label_${i}` })) : null
    this.attributes = spec.groupByAttributes?.length ? spec.groupByAttributes.map((key, i) => ({ key, column: `attr_${i}` })) : null
  }
}

/** Reads a returned column's value by name (undefined when it is not returned). */
export interface ColumnReader {
  get(column: string): unknown
}

/** Where a view's values come from: its columns, and the currency of its amounts. */
interface Source extends ColumnReader {
  readonly currency: string
}

/** One returned row (values in `columns` order: a page's, or a stream batch's), read by column name. */
class ValuesSource implements Source {
  constructor(
    private readonly values: RowValues,
    private readonly index: ReadonlyMap<string, number>,
    readonly currency: string,
  ) {}

  get(column: string): unknown {
    const i = this.index.get(column)
    return i === undefined ? undefined : this.values[i]
  }
}

/** The totals' JSON object, by column name. */
class RecordSource implements Source {
  constructor(
    private readonly record: Record<string, unknown>,
    readonly currency: string,
  ) {}

  get(column: string): unknown {
    return this.record[column]
  }
}

/** A getter per field of `fields` on `proto`, reading its column through the view's source. */
function defineFields(proto: object, fields: Fields): void {
  for (const [field, [column, read]] of Object.entries(fields)) {
    Object.defineProperty(proto, field, {
      get(this: { s: Source }) {
        return read(this.s.get(column))
      },
      enumerable: false,
    })
  }
}

/** A cost is complete when no token and no resource quantity went unpriced. */
const isComplete = (c: Pick<Cost, 'unpricedTokens' | 'unpricedQuantity'>) => c.unpricedTokens === 0 && c.unpricedQuantity.length === 0

class CostView {
  constructor(readonly s: Source) {}

  get currency() { return this.s.currency }
  get complete() { return isComplete(this as unknown as Cost) }

  get unpricedTokensByClass() {
    // A loop, not fromEntries over mapped pairs: read for every materialized row.
    const out: Record<string, unknown> = {}
    for (const u of UNPRICED_BY_COST) out[u.field] = count(this.s.get(u.column))
    return out as Cost['unpricedTokensByClass']
  }
}
defineFields(CostView.prototype, COST_FIELDS)

class TotalsView {
  constructor(readonly s: Source) {}

  get cost(): Cost { return new CostView(this.s) as unknown as Cost }
}
defineFields(TotalsView.prototype, TOTAL_FIELDS)

class RowView extends TotalsView {
  constructor(
    s: Source,
    readonly shape: Shape,
  ) {
    super(s)
  }

  get labels() { return this.shape.labels?.map(({ key, column }) => ({ key, value: nullable(this.s.get(column)) as string | null })) ?? null }
  get attributes() { return this.shape.attributes?.map(({ key, column }) => ({ key, value: nullable(this.s.get(column)) as string | null })) ?? null }
}
defineFields(RowView.prototype, ROW_FIELDS)
// One getter per dimension field on the prototype (one hidden class for every page's views).
for (const { field } of Object.values(DIMENSIONS)) {
  Object.defineProperty(RowView.prototype, field, {
    get(this: RowView) {
      const column = this.shape.dimensions.get(field)
      return column === undefined ? null : nullable(this.s.get(column))
    },
    enumerable: false,
  })
}

/** Maps one page's returned rows (values in `columns` order) to views; build it once per page. */
export function usageRowViews(
  spec: Pick<UsageSpec, 'groupBy' | 'groupByLabels' | 'groupByAttributes'>,
  columns: readonly string[],
  currency: string,
): (values: RowValues) => UsageRowView {
  const view = rowViews(spec, columns, currency)
  return (values) => view(values) as unknown as UsageRowView
}

/** The views of rows shipped in `columns` order (the one place a row's values are indexed by column name). */
function rowViews(spec: Pick<UsageSpec, 'groupBy' | 'groupByLabels' | 'groupByAttributes'>, columns: readonly string[], currency: string): (values: RowValues) => RowView {
  return viewsOf(RowView, spec, columns, currency)
}

function viewsOf<V extends RowView>(
  View: new (s: Source, shape: Shape) => V,
  spec: Pick<UsageSpec, 'groupBy' | 'groupByLabels' | 'groupByAttributes'>,
  columns: readonly string[],
  currency: string,
): (values: RowValues) => V {
  const shape = new Shape(spec, currency)
  const index = new Map(columns.map((c, i) => [c, i]))
  return (values) => new View(new ValuesSource(values, index, currency), shape)
}

/** Maps the REST report's per-class columns (`UsageRow.classes` / `classTokens`). */
export interface ClassBreakdownReaders {
  classes: (r: ColumnReader) => UsageRow['classes']
  classTokens: (r: ColumnReader) => UsageRow['classTokens']
}

/**
 * Views of the REST reports' rows (src/usage/stream-usage.ts): a UsageRow whose every field — `storageByteSeconds`
 * and the per-class breakdown too — is mapped when it is read. A report reads each row's fields once for the
 * page it serves, and the rows read ahead for later pages stay as the values the statement shipped until then:
 * materializing every field of 1,500 rows up front, and keeping their object graphs alive for the later pages,
 * was the largest part of a costs listing's server time after the statement (docs/rest-mirrors.md).
 * Read `classes`/`classTokens` once per row: each read maps the whole breakdown.
 */
export function reportRowViews(
  spec: Pick<UsageSpec, 'groupBy' | 'groupByLabels' | 'groupByAttributes' | 'classes'>,
  columns: readonly string[],
  currency: string,
  breakdown: ClassBreakdownReaders,
): (values: RowValues) => UsageRow {
  const mode = spec.classes
  class ReportRowView extends RowView {
    get storageByteSeconds() { return decimal(this.s.get('storage_byte_seconds')) }
    get classes() { return mode === true ? breakdown.classes(this.s) : undefined }
    get classTokens() { return mode === 'tokens' ? breakdown.classTokens(this.s) : undefined }
  }
  const view = viewsOf(ReportRowView, spec, columns, currency)
  return (values) => view(values) as unknown as UsageRow
}

const COST_KEYS = [...Object.keys(COST_FIELDS), 'currency', 'complete', 'unpricedTokensByClass'] as (keyof Cost)[]
const TOTAL_KEYS = Object.keys(TOTAL_FIELDS) as (keyof UsageTotals)[]

/** A view's fields read once into a plain object (the cost too). */
function materialize<T extends object>(view: object, keys: readonly string[]): T {
  const v = view as Record<string, unknown>
  const out: Record<string, unknown> = {}
  for (const k of keys) out[k] = v[k]
  const costView = v.cost as Record<string, unknown>
  const cost: Record<string, unknown> = {}
  // `complete` from the fields read just before it (COST_FIELDS come first), not through the view again.
  for (const k of COST_KEYS) cost[k] = k === 'complete' ? isComplete(cost as unknown as Cost) : costView[k]
  out.cost = cost
  return out as T
}

/** The totals' columns (the statement's `totals` JSON) as UsageTotals. */
export function toTotals(r: Record<string, unknown>, currency: string): UsageTotals {
  return materialize(new TotalsView(new RecordSource(r, currency)), TOTAL_KEYS)
}

/**
 * Maps one statement's returned rows (values in `columns` order) to plain UsageRow objects: every field of
 * the view, plus `storageByteSeconds` (REST) and, when the spec asks, the per-class breakdown (`classes`,
 * or `classTokens` for a tokens-only one, mapped by `breakdown` from the row's columns). Read through the
 * values by index, never through an object keyed by column name (60–100 keys a row: a dictionary-mode
 * object per row was the largest single cost of mapping a read-ahead's 1,500 rows).
 */
export function usageRowMapper<S extends Pick<UsageSpec, 'groupBy' | 'groupByLabels' | 'groupByAttributes' | 'classes'>>(
  spec: S,
  columns: readonly string[],
  currency: string,
  breakdown: ClassBreakdownReaders,
): (values: RowValues) => UsageRow {
  const view = rowViews(spec, columns, currency)
  const keys = [...TOTAL_KEYS, ...Object.keys(ROW_FIELDS), 'labels', 'attributes', ...new Shape(spec, currency).dimensions.keys()]
  return (values) => {
    const v = view(values)
    const row = materialize<UsageRow>(v, keys)
    row.storageByteSeconds = decimal(v.s.get('storage_byte_seconds')) as string | null
    if (spec.classes === 'tokens') row.classTokens = breakdown.classTokens(v.s)
    else if (spec.classes) row.classes = breakdown.classes(v.s)
    return row
  }
}
