import type { Decimal } from 'decimal.js'
import { Exact } from '../../decimal/exact.js'
import { normalizeDecimal } from '../../decimal/decimal-text.js'
import type { UsageFilter } from '../dimensions.js'
import type { UsageRow } from '../run-usage.js'
import { COST_COLUMNS, TIME_COLUMNS } from './csv-lines.js'
import type { BucketRows } from './report.js'
import { FIELD_SOURCES, filterField, IMAGE_SOURCES, type FieldSource, type FilterParam, type ResourceEndpoint, type ResultField } from './resource-endpoints.js'

/** The resource endpoints' results from usage rows: what to ask the query layer for, and the merge. */

/** The parameters planQuery reads (the route's query, validated). */
export type ResourceQuery = { group_by?: string[] | undefined; sources?: string[] | undefined } & Partial<Record<FilterParam, string[]>> & Record<string, unknown>

const DIM_FILTERS = { project_ids: 'projectIds', user_ids: 'userIds', api_key_ids: 'apiKeyIds', models: 'models' } as const

/** One result before it is written out: rows that differ only in a filtered, ungrouped attribute are summed. */
interface Merged {
  fields: Partial<Record<ResultField, string | null>>
  quantity: Decimal
  byteSeconds: Decimal
  total: Decimal
  unpriced: Map<string, Decimal>
  complete: boolean
}

const fieldValue = (row: UsageRow, f: ResultField, attrs: string[]): string | null => {
  const s = FIELD_SOURCES[f]
  if ('dim' in s) return (row[s.field] as string | null | undefined) ?? null
  return row.attributes?.[attrs.indexOf(s.attr)]?.value ?? null
}

/**
 * The bucket's rows as results: attribute filters (the query layer filters dimensions, not attribute
 * values) keep rows whose attribute is one of the values — a null never matches, as at OpenAI — then
 * rows equal in every grouped field are summed with exact decimals.
 */
export function mergeRows(b: BucketRows, grouped: ResultField[], attrs: string[], attrFilters: [ResultField, string[]][]): Merged[] {
  const out = new Map<string, Merged>()
  for (const row of b.rows) {
    if (!attrFilters.every(([f, values]) => values.includes(fieldValue(row, f, attrs) ?? '\u0000'))) continue
    const fields = Object.fromEntries(grouped.map((f) => [f, fieldValue(row, f, attrs)]))
    const key = JSON.stringify(grouped.map((f) => fields[f]))
    const m = out.get(key) ?? { fields, quantity: new Exact(0), byteSeconds: new Exact(0), total: new Exact(0), unpriced: new Map(), complete: true }
    m.quantity = m.quantity.plus(row.quantity ?? 0)
    m.byteSeconds = m.byteSeconds.plus(row.storageByteSeconds ?? 0)
    m.total = m.total.plus(row.cost.total)
    for (const u of row.cost.unpricedQuantity) m.unpriced.set(u.resource, (m.unpriced.get(u.resource) ?? new Exact(0)).plus(u.quantity))
    m.complete &&= row.cost.complete
    out.set(key, m)
  }
  return [...out.values()]
}

const exact = (d: Decimal) => normalizeDecimal(d.toFixed())

export function resultOf(e: ResourceEndpoint, m: Merged, b: BucketRows, currency: string) {
  // Storage is a gauge: its usage is the time-weighted mean over the window, floored to whole bytes.
  const quantity = e.resource === 'storage_bytes' ? m.byteSeconds.dividedToIntegerBy(b.end - b.start).toNumber() : m.quantity.toNumber()
  const total = exact(m.total)
  return {
    object: e.object,
    [e.quantity]: quantity,
    ...(e.requests ? { num_model_requests: null } : {}),
    ...Object.fromEntries(e.fields.map((f) => [f, m.fields[f] ?? null])),
    cost: {
      value: Number(total),
      value_exact: total,
      currency,
      complete: m.complete,
      unpriced_tokens: 0,
      unpriced_quantity: [...m.unpriced].map(([resource, q]) => ({ resource, quantity: exact(q) })),
    },
  }
}

/**
 * What to ask the query layer for: OpenAI's group_by split into dimensions and attributes, dimension
 * filters as query filters, attribute filters (applied to the rows, see mergeRows) and the usage
 * sources — on `images`, `sources` also carries OpenAI's image sources (the two value sets are disjoint).
 */
export function planQuery<Q extends ResourceQuery>(e: ResourceEndpoint, q: Q) {
  const grouped = [...new Set(q.group_by ?? [])] as ResultField[]
  const isImageSource = (s: string) => (IMAGE_SOURCES as readonly string[]).includes(s)
  const imageSources = (q.sources ?? []).filter(isImageSource)
  const usageSources = (q.sources ?? []).filter((s) => !isImageSource(s))
  const attrFilters = e.filters
    .filter((p) => !(p in DIM_FILTERS) && (p === 'sources' ? imageSources.length > 0 : q[p]?.length))
    .map((p) => [filterField(p), p === 'sources' ? imageSources : q[p]!] as [ResultField, string[]])
  const sourceOf = (f: ResultField): FieldSource => FIELD_SOURCES[f]
  const attrs = [...new Set([...grouped, ...attrFilters.map(([f]) => f)].flatMap((f) => {
    const s = sourceOf(f)
    return 'attr' in s ? [s.attr] : []
  }))]
  const groupBy = grouped.flatMap((f) => {
    const s = sourceOf(f)
    return 'dim' in s ? [s.dim] : []
  })
  const filter: UsageFilter = { resources: [e.resource] }
  for (const [p, key] of Object.entries(DIM_FILTERS)) {
    const values = q[p as keyof typeof DIM_FILTERS]
    if (values?.length) filter[key] = values
  }
  // The image sources stay in the query under their own name: every parameter binds the `page` cursor, and
  // without them a cursor of `sources=image.edit` was taken by `sources=image.generation` (`sizes` was refused).
  const query = { ...q, sources: usageSources.length ? usageSources : undefined, image_sources: imageSources.length ? imageSources : undefined }
  return { query, groupBy, grouped, attrs, attrFilters, filter }
}

/**
 * The CSV: the result's fields (its dimensions and attributes in OpenAI's order), the resource it
 * reads, its quantity, then its cost with the unpriced quantity as `resource:quantity` pairs.
 */
export const csvColumns = (e: ResourceEndpoint) => [
  ...TIME_COLUMNS, ...e.fields, 'resource', e.quantity, ...(e.requests ? ['num_model_requests'] : []), ...COST_COLUMNS, 'unpriced_quantity',
]
