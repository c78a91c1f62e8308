import { sql, type SQL } from 'drizzle-orm'
import {
  classCostColumns,
  effectiveRatesSql,
  ratePointsCte,
  oneSegmentSql,
  resolvedRatesSql,
  segmentSql,
  type PricingScope,
} from '../pricing/cost-sql.js'
import { PRICED_CLASSES, UNPRICED_BY_COST } from '../db/token-columns.js'
import { resourceCostColumns, unitPriceJoinSql } from '../pricing/resource-cost-sql.js'
import { DIMENSIONS, MODALITIES, type ColumnDimension, type Dimension, type UsageFilter } from './dimensions.js'
import { COUNTERS, factParts, type FactPart } from './facts-sql.js'
import { alignedSql, bucketPath } from './rollups.js'
import { costlyWindows, windowEndSql, windowsByHourSql, windowStartSql, type Window } from './windows.js'
import { DAY_MS, MAX_UNIX_SECONDS } from '../time/instant.js'
import { inCodePointOrder } from '../db/orm.js'

export interface UsageSpec {
  tenantId: string
  from: Date
  to: Date
  window: Window
  timeZone: string
  groupBy: Dimension[]
  groupByLabels: string[]
  /** Attribute keys of resource rows to group by (token rows have none: null values). */
  groupByAttributes?: string[] | undefined
  filter: UsageFilter
  sources: string[]
  pricing: PricingScope
  /**
   * Also return, per priced token class, its tokens, cost and unpriced tokens (columns `<class>`,
   * `c_<class>`, `u_<class>`): the costs mirror needs them for its line items. `'tokens'`: the tokens
   * only (columns `<class>`), all the completions mirror's per-modality counters need — a third of the
   * sums and columns. Not combined with MODALITY grouping, which already splits by class family.
   */
  classes?: ClassBreakdown
  /** false: read provider buckets from usage_buckets even where the hourly rollup would serve. */
  rollups?: boolean
}

/** Which per-class figures a query returns: none, every one, or the tokens only (UsageSpec.classes). */
export type ClassBreakdown = boolean | 'tokens'

const CLASS_COLUMNS = PRICED_CLASSES.map((c) => c.column)

/** Per class, the columns of its breakdown (`<class>`, and `c_<class>`, `u_<class>` unless tokens only). */
function classColumns(classes: ClassBreakdown): string[][] {
  if (!classes) return []
  return CLASS_COLUMNS.map((c) => (classes === 'tokens' ? [c] : [c, `c_${c}`, `u_${c}`]))
}
/** The range's one rate segment, or null when a price changes inside it (CTE `one_seg`). */
const ONE_SEGMENT = sql`(select s from one_seg)`
const raw = (s: string) => sql.raw(s)
const list = (items: SQL[]) => sql.join(items, sql`, `)

interface Grouping {
  /** Output key columns of the final rows, in order: w, dims, labels, attributes (and modality). */
  keys: string[]
  dimColumns: string[]
  labelColumns: string[]
  attributeColumns: string[]
  modality: boolean
}

/** What a row's key depends on. */
type KeySpec = Pick<UsageSpec, 'groupBy' | 'groupByLabels' | 'groupByAttributes'>

function grouping(spec: KeySpec & Partial<Pick<UsageSpec, 'filter'>>): Grouping {
  const dimColumns = spec.groupBy
    .filter((d): d is ColumnDimension => d !== 'MODALITY')
    .map((d) => DIMENSIONS[d].column)
  const labelColumns = spec.groupByLabels.map((_, i) => `label_${i}`)
  const attributeColumns = (spec.groupByAttributes ?? []).map((_, i) => `attr_${i}`)
  const modality = spec.groupBy.includes('MODALITY') || !!spec.filter?.modalities?.length
  const keys = ['w', ...dimColumns, ...labelColumns, ...attributeColumns, ...(spec.groupBy.includes('MODALITY') ? ['modality'] : [])]
  return { keys, dimColumns, labelColumns, attributeColumns, modality }
}

/** The grouped, priced usage as a WITH clause ending in CTE `grouped` (one row per output group). */
export function withGroupedSql(spec: UsageSpec): SQL {
  const g = grouping(spec)
  // Decided once: the `aligned` CTE exists exactly when the facts read the rollup behind it.
  const path = spec.sources.some((s) => s !== 'events') ? bucketPath(spec) : 'base'
  const w = windowStartSql(spec.window, sql`t`, spec.timeZone, spec.from)
  const labelExprs = spec.groupByLabels.map((key, i) => sql`labels ->> ${key} as ${raw(`label_${i}`)}`)
  const attrExprs = (spec.groupByAttributes ?? []).map((key, i) => sql`attributes ->> ${key} as ${raw(`attr_${i}`)}`)
  // `resource` is always a pricing key; as a grouped dimension it is the same column.
  const outDims = g.dimColumns.filter((c) => c !== 'resource')
  const aggKeys = ['w', ...outDims, ...g.labelColumns, ...g.attributeColumns, 'p_provider', 'p_model', 'p_tier', 'p_batch', 'p_ctx', 'p_geo', 'seg', 'resource', 'attributes', 'rid']
  const sums = (cols: string[]) => raw(cols.map((c) => `sum(${c}) as ${c}`).join(', '))
  const extra = [...labelExprs, ...attrExprs]

  // Storage rows are grouped apart per stored bucket (rid), so byte_seconds is one bucket's. Each part of
  // the facts is aggregated on its own (then the partial rows flow on together): pricing is linear in
  // every counter and storage is rounded per rid, which lives in one part, so the later stages, which sum
  // per output group, give the same figures as one aggregate over the union. Apart, each part is planned
  // with its own row estimate (a rollup is not sized like the base table it is gated against), a part
  // of token rows is not grouped by the resource columns it does not have, and a gated part is behind a
  // fence (offset 0) so its gate stops it before any parallel worker starts.
  // Hourly parts look their rows' windows up per hour when that pays (left join: a missing hour computes its own).
  const parts = factParts(spec, path)
  const byHour = parts.some((p) => p.hourly) ? windowsByHourSql(spec.window, spec.timeZone, spec.from, spec.to) : undefined
  const aggOf = (part: FactPart, seg: SQL, segGate: SQL) => {
    const keys = part.tokensOnly ? aggKeys.filter((k) => !['resource', 'attributes', 'rid'].includes(k)) : aggKeys
    const resourceCols = part.tokensOnly
      ? sql`'tokens'::text as resource, '{}'::jsonb as attributes, null::int8 as rid,`
      : sql`resource, attributes, rid,`
    const amounts = part.tokensOnly
      ? sql`null::numeric as quantity, null::numeric as byte_seconds`
      : sql`sum(quantity) as quantity, sum(quantity * secs) as byte_seconds`
    const groupBy = keys.map((k) => String(aggKeys.indexOf(k) + 1)).join(', ')
    const mapped = byHour && part.hourly
    const body = sql`select ${mapped ? sql`coalesce(hw.ww, ${w})` : w} as w, ${raw(outDims.map((c) => `${c}, `).join(''))}${extra.length ? sql`${list(extra)}, ` : sql``}
      provider as p_provider, model as p_model, service_tier as p_tier, coalesce(batch, false) as p_batch,
      context_tier as p_ctx, inference_geo as p_geo, ${seg} as seg, ${resourceCols}
      sum(requests) as requests, ${sums(COUNTERS)}, sum(reported_cost) as reported_cost, ${amounts}
    from (${part.sql}) facts${mapped ? sql` left join hour_windows hw on hw.wt = facts.t` : sql``} group by ${raw(groupBy)}`
    return sql`select * from (${body} offset 0) gated where ${part.gate ? sql`${part.gate} and ` : sql``}${segGate}`
  }
  if (parts.length === 0) throw new Error('a usage query reads at least one source')
  // Each part twice, exactly one of them read (a one-time check in the statement, on the card it
  // prices by): when no price changes inside the range, every row has the range's one rate segment, a
  // constant the planner leaves out of its group count; otherwise each row's own segment. Grouped by
  // `width_bucket(t, …)`, the planner counted one group per day or hour of `t` (it cannot see that the
  // segment changes rarely): TOTAL × API_KEY at 10M was estimated at 169,472 groups a worker against
  // 13,889, and sorted instead of hashed (docs/performance.md "the range's one rate segment").
  const agg = sql.join(
    parts.flatMap((p) => [
      sql`(${aggOf(p, ONE_SEGMENT, sql`${ONE_SEGMENT} is not null`)})`,
      sql`(${aggOf(p, segmentSql(sql`t`), sql`${ONE_SEGMENT} is null`)})`,
    ]),
    sql` union all `,
  )

  // Priced partial rows; `where` picks token or resource rows (the plain path prices them apart).
  const pricedOf = (where?: SQL) => sql`select a.*, ${classCostColumns('a', 'r')}, ${resourceCostColumns('a', 'r')}
    from agg a
    left join resolved r on r.p_provider = a.p_provider and r.p_model is not distinct from a.p_model
      and r.p_tier = a.p_tier and r.p_batch = a.p_batch and r.p_ctx is not distinct from a.p_ctx
      and r.p_geo is not distinct from a.p_geo and r.t_rep = a.t_rep
    ${unitPriceJoinSql('a', 'r')}${where ? sql` where ${where}` : sql``}`

  if (spec.classes && g.modality) throw new Error('per-class breakdown cannot be combined with MODALITY')
  // MODALITY: per-class sums per (group, resource) in `byres`, then one row per modality. Otherwise the
  // token rows go straight to the output groups and only resource rows are summed per resource.
  const stages = g.modality
    ? sql`priced as (${pricedOf()}),
    byres as (${byResourceSql(g)}),
    ${groupsSql(spec, groupedSql(g, modalityRowsSql(spec, g), false))}`
    : sql`priced_tokens as (${pricedOf(sql`a.resource = 'tokens'`)}),
    priced as (${pricedOf(sql`a.resource <> 'tokens'`)}),
    ${groupsSql(spec, groupedSql(g, plainRowsSql(g, spec.classes ?? false), spec.classes ?? false))}`
  const hourWindows = byHour ? sql`hour_windows as materialized (${byHour}), ` : sql``
  return sql`with eff as (${effectiveRatesSql(spec.pricing)}),
    pts as (${ratePointsCte}),
    one_seg as (${oneSegmentSql(spec.from, spec.to)}),${path !== 'base'
? sql`
    aligned as (${alignedSql(spec, path)}),`
: sql``}
    ${hourWindows}agg0 as (${agg}),
    agg as (select agg0.*, (select arr from pts)[seg] as t_rep from agg0),
    resolved as materialized (${resolvedRatesSql()}),
    ${stages}`
}

function costSum(columns: readonly string[]): string {
  return columns.length ? columns.map((c) => `coalesce(c_${c}, 0)`).join(' + ') : '0'
}

/** Key columns without modality (it is made later, from the token classes). */
const baseKeys = (g: Grouping) => g.keys.filter((k) => k !== 'modality' && k !== 'resource')

/** Priced rows summed per output group and resource, per class (the MODALITY rows are made from it). */
function byResourceSql(g: Grouping): SQL {
  const keys = [...baseKeys(g), 'resource']
  const cols = [
    'sum(requests) as requests',
    'count(requests) as n_req',
    'sum(input_tokens) as input_tokens',
    'sum(output_tokens) as output_tokens',
    ...CLASS_COLUMNS.map((c) => `sum(${c}) as ${c}, sum(coalesce(c_${c}, 0)) as c_${c}, sum(u_${c}) as u_${c}`),
    'sum(c_res) as c_res',
    'sum(qty) as qty',
    'sum(u_q) as u_q',
    `sum(case when resource = 'storage_bytes' then byte_seconds end) as bsec`,
    'sum(reported_cost) as reported_cost',
  ]
  return raw(`select ${keys.join(', ')}, ${cols.join(', ')} from priced group by ${keys.join(', ')}`)
}

const byCost = (field: string) => PRICED_CLASSES.filter((c) => c.cost === field).map((c) => c.column)
const sumOf = (xs: readonly string[]) => (xs.length ? xs.join(' + ') : '0')
/** Per Cost field, the sum of its classes' unpriced tokens (`of` picks the classes, e.g. one modality's). */
const unpricedByCost = (of: (cost: string) => readonly string[]) =>
  UNPRICED_BY_COST.map((u) => ({ column: u.column, expr: sumOf(of(u.field).map((c) => `u_${c}`)) }))
const UNPRICED_COLUMNS = UNPRICED_BY_COST.map((u) => u.column)

/**
 * The rows the output groups are summed from, without modality: each priced token row as it is (its
 * class families added up: every counter and cost is non-null and exact, so this equals summing per
 * class first), and the resource rows summed per (group, resource), the level at which unpriced
 * quantities are listed. Token rows are never summed per resource first: that aggregate (41 numeric
 * sums per group, spilling to disk at 36,000 groups) was most of a large result's pricing time.
 */
function plainRowsSql(g: Grouping, classes: ClassBreakdown): SQL {
  const keys = g.keys.filter((k) => k !== 'resource')
  const cols = (agg: (expr: string) => string) => [
    `${agg('requests')} as requests`,
    `${agg === same ? 'case when requests is null then 0 else 1 end' : 'count(requests)'} as n_req`,
    `${agg('input_tokens')} as input_tokens`,
    `${agg('output_tokens')} as output_tokens`,
    `${agg(sumOf(byCost('cachedInput')))} as cached_input_tokens`,
    `${agg(sumOf(byCost('input')))} as uncached_input_tokens`,
    `${agg(sumOf(byCost('cacheWrite')))} as cache_write_tokens`,
    `${agg('cache_write_1h')} as cache_write_1h_tokens`,
    `${agg(costSum(byCost('input')))} as cost_input`,
    `${agg(costSum(byCost('cachedInput')))} as cost_cached_input`,
    `${agg(costSum(byCost('cacheWrite')))} as cost_cache_write`,
    `${agg(costSum(byCost('output')))} as cost_output`,
    `${agg('c_res')} as cost_resources`,
    `${agg(CLASS_COLUMNS.map((c) => `u_${c}`).join(' + '))} as unpriced_tokens`,
    ...unpricedByCost(byCost).map((u) => `${agg(u.expr)} as ${u.column}`),
    `${agg('qty')} as qty`,
    `${agg('u_q')} as u_q`,
    `${agg(`case when resource = 'storage_bytes' then byte_seconds end`)} as bsec`,
    `${agg('reported_cost')} as reported_cost`,
    ...classColumns(classes).flat().map((c) => `${agg(c.startsWith('c_') ? `coalesce(${c}, 0)` : c)} as ${c}`),
  ].join(', ')
  const groupKeys = [...keys, 'resource'].join(', ')
  return raw(`select ${groupKeys}, resource as r_name, ${cols(same)} from priced_tokens
    union all
    select ${groupKeys}, resource as r_name, ${cols(sum)} from priced group by ${groupKeys}`)
}

const same = (expr: string) => `(${expr})`
const sum = (expr: string) => `sum(${expr})`

/**
 * One row per modality (text, audio, image) of the token rows (cache writes, both durations, count on
 * the text row), and the resource rows with no modality — unless a modality filter keeps only tokens.
 * The reported cost is the provider's figure for whole calls, not split by modality: it is on the text
 * row (kept even without text tokens), so the rows still add up to the totals of the same query
 * without MODALITY.
 */
function modalityRowsSql(spec: UsageSpec, g: Grouping): SQL {
  const values = MODALITIES.map((m) => {
    const of = (cost: string) => PRICED_CLASSES.filter((c) => c.modality === m && c.cost === cost).map((c) => c.column)
    const cols = PRICED_CLASSES.filter((c) => c.modality === m).map((c) => c.column)
    const inputCols = [...of('input'), ...of('cachedInput'), ...of('cacheWrite')]
    const text = m === 'text'
    return raw(`('${m}', ${sumOf(inputCols)}, ${sumOf(of('output'))}, ${sumOf(of('cachedInput'))}, ${sumOf(of('input'))},
      ${sumOf(of('cacheWrite'))}, ${text ? 'cache_write_1h' : '0'}, ${costSum(of('input'))}, ${costSum(of('cachedInput'))}, ${costSum(of('cacheWrite'))},
      ${costSum(of('output'))}, ${cols.map((c) => `u_${c}`).join(' + ')}, ${text ? 'reported_cost' : 'null::numeric'},
      ${unpricedByCost(of).map((u) => u.expr).join(', ')})`)
  })
  const keysOut = g.keys.map((k) => (k === 'modality' ? 'm.modality' : `b.${k}`)).join(', ')
  const keep = spec.filter.modalities?.length ? sql` and m.modality = any(${sql.param(spec.filter.modalities)}::text[])` : sql``
  const tokens = sql`select ${raw(keysOut)}, 'tokens'::text as r_name, null::int8 as requests, 0::int8 as n_req,
      m.input_tokens, m.output_tokens, m.cached as cached_input_tokens, m.uncached as uncached_input_tokens,
      m.cache_write as cache_write_tokens, m.cache_write_1h as cache_write_1h_tokens,
      m.cost_input, m.cost_cached_input, m.cost_cache_write, m.cost_output, 0::numeric as cost_resources,
      m.unpriced as unpriced_tokens, null::numeric as qty, 0::numeric as u_q, null::numeric as bsec, m.reported_cost,
      ${raw(UNPRICED_COLUMNS.map((c) => `m.${c}`).join(', '))}
    from byres b cross join lateral (values ${list(values)}) as m(modality, input_tokens, output_tokens, cached,
      uncached, cache_write, cache_write_1h, cost_input, cost_cached_input, cost_cache_write, cost_output, unpriced, reported_cost,
      ${raw(UNPRICED_COLUMNS.join(', '))})
    where b.resource = 'tokens' and (m.input_tokens > 0 or m.output_tokens > 0 or m.reported_cost is not null)${keep}`
  if (spec.filter.modalities?.length) return tokens
  const resKeys = g.keys.map((k) => (k === 'modality' ? 'null::text as modality' : `b.${k}`)).join(', ')
  return sql`${tokens} union all select ${raw(resKeys)}, b.resource as r_name, null::int8, 0::int8, 0::int8, 0::int8, 0::int8, 0::int8,
      0::int8, 0::int8, 0::numeric, 0::numeric, 0::numeric, 0::numeric, b.c_res, 0::int8, b.qty, b.u_q, b.bsec, b.reported_cost,
      ${raw(UNPRICED_COLUMNS.map(() => '0::int8').join(', '))}
    from byres b where b.resource <> 'tokens'`
}

/**
 * The CTE `grouped` (the output groups), with each group's window end as `window_end` where windowEndSql
 * is the long form (costlyWindows): computed once per distinct window start, not once per group — HOUR ×
 * PROJECT over 30 days in Asia/Kolkata has 36,000 groups and 720 windows.
 */
function groupsSql(spec: UsageSpec, groups: SQL): SQL {
  if (!costlyWindows(spec.window, spec.timeZone)) return sql`grouped as (${groups})`
  return sql`grouped_rows as (${groups}),
    window_ends as (select w, ${windowEndSql(spec.window, sql`w`, spec.timeZone, spec.to)} as window_end from (select distinct w from grouped_rows) d),
    grouped as (select g.*, e.window_end from grouped_rows g left join window_ends e on e.w = g.w)`
}

/** The output groups: figures summed over their per-resource rows, the quantity, the unpriced quantities. */
function groupedSql(g: Grouping, rowsSql: SQL, classes: ClassBreakdown): SQL {
  const s = (c: string) => `sum(${c}) as ${c}`
  const classSums = classColumns(classes).flat().map((c) => `, ${s(c)}`).join('')
  return sql`select ${raw(g.keys.join(', '))},
      case when sum(n_req) = 0 then null else sum(requests) end as requests,
      ${raw(['input_tokens', 'output_tokens', 'cached_input_tokens', 'uncached_input_tokens', 'cache_write_tokens', 'cache_write_1h_tokens',
        'cost_input', 'cost_cached_input', 'cost_cache_write', 'cost_output', 'cost_resources', 'unpriced_tokens', ...UNPRICED_COLUMNS,
        'reported_cost'].map(s).join(', '))},
      case when count(distinct r_name) = 1 and min(r_name) <> 'tokens' then sum(qty) end as quantity,
      sum(bsec) as storage_byte_seconds,
      coalesce(jsonb_agg(jsonb_build_object('resource', r_name, 'quantity', u_q::text) order by ${inCodePointOrder(raw('r_name'))}) filter (where u_q > 0), '[]'::jsonb)
        as unpriced_quantity${raw(classSums)}
    from (${rowsSql}) x group by ${raw(g.keys.join(', '))}`
}

/**
 * The output columns of a page, in order, as (name, expression): window end and exact totals as text.
 * Shipped as one JSON array per row (run-usage's rowJsonSql), by run-usage and the REST stream alike.
 */
export function pageColumns(spec: UsageSpec): { name: string; expr: SQL }[] {
  const g = grouping(spec)
  const col = (name: string, expr = name) => ({ name, expr: raw(expr) })
  const classCols = classColumns(spec.classes ?? false).flat().map((c) => col(c, c.startsWith('c_') ? `${c}::text` : `${c}::int8`))
  return [
    ...classCols,
    col('window_start', 'w'),
    { name: 'window_end', expr: costlyWindows(spec.window, spec.timeZone) ? raw('window_end') : windowEndSql(spec.window, sql`w`, spec.timeZone, spec.to) },
    ...g.keys.filter((k) => k !== 'w').map((d) => col(d)),
    ...['requests', 'input_tokens', 'output_tokens', 'cached_input_tokens', 'uncached_input_tokens', 'cache_write_tokens', 'cache_write_1h_tokens']
      .map((c) => col(c, `${c}::int8`)),
    col('cost_total', '(cost_input + cost_cached_input + cost_cache_write + cost_output + cost_resources)::text'),
    ...['cost_input', 'cost_cached_input', 'cost_cache_write', 'cost_output', 'cost_resources'].map((c) => col(c, `${c}::text`)),
    col('unpriced_tokens', 'unpriced_tokens::int8'),
    ...UNPRICED_COLUMNS.map((c) => col(c, `${c}::int8`)),
    col('unpriced_quantity'),
    col('quantity', 'quantity::text'),
    col('storage_byte_seconds', 'storage_byte_seconds::text'),
    col('reported_cost', 'reported_cost::text'),
  ]
}

/**
 * A key column as it is ordered and compared: the text ones (dimensions, labels, attributes, modality) by
 * code point, whatever the database's collation (inCodePointOrder) — the window start and `batch` are not text.
 */
const keyTerm = (k: string): SQL => (k === 'w' || k === 'batch' ? raw(k) : inCodePointOrder(raw(k)))

export function orderBySql(spec: UsageSpec): SQL {
  return list(grouping(spec).keys.map((k) => sql`${keyTerm(k)} asc nulls last`))
}

/** A row's sort key, in orderBySql's order: the window start in epoch ms, then the grouped values. */
export type RowKey = (number | string | boolean | null)[]

/** The page columns (pageColumns' names) that make up a row's key, in orderBySql's order. */
export function keyColumns(spec: KeySpec): string[] {
  return grouping(spec).keys.map((k) => (k === 'w' ? 'window_start' : k))
}

/**
 * Window starts a key may hold (epoch ms). Instants start at 1970-01-01T00:00Z, but the local window
 * holding one can start earlier (Asia/Kolkata's 1970-01-01 at 1969-12-31T18:30Z; its week days before):
 * a month back covers every window, and stays far inside PostgreSQL's range.
 */
const isWindowStartMs = (v: unknown): v is number =>
  Number.isSafeInteger(v) && (v as number) >= -31 * DAY_MS && (v as number) <= MAX_UNIX_SECONDS * 1000 + 999

/** Whether `key` has the types of `spec`'s key columns (a forged cursor must not reach SQL otherwise). */
export function isRowKey(spec: KeySpec, key: unknown[]): key is RowKey {
  const keys = grouping(spec).keys
  return key.length === keys.length && keys.every((k, i) => {
    const v = key[i]
    if (k === 'w') return isWindowStartMs(v)
    if (v === null) return true
    return k === 'batch' ? typeof v === 'boolean' : typeof v === 'string' && v.length <= 100_000 && !v.includes('\u0000')
  })
}

/**
 * The grouped rows after `key` in orderBySql's order (ascending, nulls last, text by code point): equal on
 * every key before one column and after on that one. Groups are unique by their key, so no row equals it.
 */
export function afterKeySql(spec: KeySpec, key: RowKey): SQL {
  const keys = grouping(spec).keys
  const value = (k: string, v: RowKey[number]) =>
    k === 'w' ? sql`('epoch'::timestamptz + ${v as number} * interval '1 millisecond')` : k === 'batch' ? sql`${v}::boolean` : sql`${v}::text`
  const terms = keys.flatMap((k, i) => {
    const v = key[i]!
    // After a null (last in its column) nothing differs in this column alone.
    if (v === null) return []
    const equal = keys.slice(0, i).map((p, j) => (key[j] === null ? sql`${raw(p)} is null` : sql`${raw(p)} = ${value(p, key[j]!)}`))
    return [sql.join([...equal, sql`(${keyTerm(k)} > ${value(k, v)} or ${raw(k)} is null)`], sql` and `)]
  })
  return terms.length ? sql`(${sql.join(terms.map((t) => sql`(${t})`), sql` or `)})` : sql`false`
}
