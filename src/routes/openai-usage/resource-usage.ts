import { Decimal } from 'decimal.js'
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { disconnectSignal } from '../../http/disconnect-signal.js'
import { normalizeDecimal } from '../../decimal/decimal-text.js'
import type { UsageFilter } from '../../usage/dimensions.js'
import type { UsageRow } from '../../usage/run-usage.js'
import type { OpenAIUsageOptions } from './index.js'
import { BUCKET_WIDTHS, USAGE_LIMITS } from '../../usage/report/buckets.js'
import { COST_COLUMNS, resultCells, TIME_COLUMNS } from '../../usage/report/csv-lines.js'
import { csvReport, wantsCsv } from './csv.js'
import { allPages, firstPage, type BucketRows, type ReportRequest } from '../../usage/report/report.js'
import { sendPage } from './json-page.js'
import { reportResponses } from './schemas.js'
import {
  FIELD_SOURCES,
  filterField,
  IMAGE_SOURCES,
  pageSchema,
  querySchema,
  RESOURCE_ENDPOINTS,
  type FieldSource,
  type ResourceEndpoint,
  type ResourceQuery,
  type ResultField,
} from './resource-endpoints.js'

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
function mergeRows(b: BucketRows, grouped: ResultField[], attrs: string[], attrFilters: [ResultField, string[]][]): Merged[] {
  const out = new Map<string, Merged>()
  for (const row of b.rows) {
    if (!attrFilters.every(([f, values]) => values.includes(fieldValue(row, f, attrs) ?? '\u0000'))) continue
    const fields = Object.fromEntries(grouped.map((f) => [f, fieldValue(row, f, attrs)]))
    const key = JSON.stringify(grouped.map((f) => fields[f]))
    const m = out.get(key) ?? { fields, quantity: new Decimal(0), byteSeconds: new Decimal(0), total: new Decimal(0), unpriced: new Map(), complete: true }
    m.quantity = m.quantity.plus(row.quantity ?? 0)
    m.byteSeconds = m.byteSeconds.plus(row.storageByteSeconds ?? 0)
    m.total = m.total.plus(row.cost.total)
    for (const u of row.cost.unpricedQuantity) m.unpriced.set(u.resource, (m.unpriced.get(u.resource) ?? new Decimal(0)).plus(u.quantity))
    m.complete &&= row.cost.complete
    out.set(key, m)
  }
  return [...out.values()]
}

const exact = (d: Decimal) => normalizeDecimal(d.toFixed())

function resultOf(e: ResourceEndpoint, m: Merged, b: BucketRows, currency: string) {
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
function planQuery(e: ResourceEndpoint, q: ResourceQuery) {
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
  return { query: { ...q, sources: usageSources.length ? usageSources : undefined }, groupBy, grouped, attrs, attrFilters, filter }
}

/**
 * The CSV: the result's fields (its dimensions and attributes in OpenAI's order), the resource it
 * reads, its quantity, then its cost with the unpriced quantity as `resource:quantity` pairs.
 */
const csvColumns = (e: ResourceEndpoint) => [
  ...TIME_COLUMNS, ...e.fields, 'resource', e.quantity, ...(e.requests ? ['num_model_requests'] : []), ...COST_COLUMNS, 'unpriced_quantity',
]

const resourceUsageRoutes: FastifyPluginAsyncZod<OpenAIUsageOptions> = async (app, opts) => {
  for (const e of RESOURCE_ENDPOINTS) {
    const schema = pageSchema(e)
    app.get(
      `/organization/usage/${e.path}`,
      {
        schema: {
          tags: ['reports'],
          operationId: e.operationId,
          summary: `${e.what} usage in OpenAI’s page shape, priced (OpenAI-compatible)`,
          description:
            `Resource \`${e.resource}\` in OpenAI’s page shape; each result adds \`cost\` (unpriced quantity listed, never $0). ` +
            (e.resource === 'storage_bytes'
              ? '`usage_bytes` is the time-weighted mean over each bucket, floored; a stored bucket longer than the requested width counts whole in the bucket of its start. '
              : '') +
            (e.requests ? '`num_model_requests` is null: request counts are kept for token buckets only. ' : '') +
            'With `Accept: text/csv` the whole range (`limit` does not apply) is streamed, one row per result with its `resource`, cost exact.',
          querystring: querySchema(e),
          response: reportResponses(schema, `${e.what} usage buckets`),
        },
      },
      async (req, reply) => {
        const { query, groupBy, grouped, attrs, attrFilters, filter } = planQuery(e, req.query as ResourceQuery)
        const r: ReportRequest = {
          tenantId: req.tenantId,
          query,
          width: BUCKET_WIDTHS[query.bucket_width],
          limits: USAGE_LIMITS[query.bucket_width],
          groupBy,
          groupByAttributes: attrs,
          filter,
          classes: false,
          maxGroups: opts.maxGroups,
          gate: opts.gate,
          signal: disconnectSignal(reply),
        }
        const results = (b: BucketRows, currency: string) => mergeRows(b, grouped, attrs, attrFilters).map((m) => resultOf(e, m, b, currency))
        if (wantsCsv(req.headers.accept))
          return csvReport(reply, csvColumns(e), await allPages(app.db, r), (b, p) => results(b, p.currency).map((x) => ({ ...resultCells(x), resource: e.resource })), `${e.path}_usage.csv`)
        const p = await firstPage(app.db, r)
        return sendPage(reply, schema, p, (b) => results(b, p.currency))
      },
    )
  }
}

export default resourceUsageRoutes
