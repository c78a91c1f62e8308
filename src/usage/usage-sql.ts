import { sql, type SQL } from 'drizzle-orm'
import {
  classCostColumns,
  effectiveRatesSql,
  ratePointsCte,
  resolvedRatesSql,
  segmentSql,
  type PricingScope,
} from '../pricing/cost-sql.js'
import { PRICED_CLASSES } from '../pricing/token-classes.js'
import {
  DIMENSIONS,
  EVENT_ONLY_FILTERS,
  FILTER_COLUMNS,
  type ColumnDimension,
  type Dimension,
  type UsageFilter,
} from './dimensions.js'
import { hourAlignedSql, rollupCandidate } from './rollups.js'
import { windowEndSql, windowStartSql, type Window } from './windows.js'

export interface UsageSpec {
  tenantId: string
  from: Date
  to: Date
  window: Window
  timeZone: string
  groupBy: Dimension[]
  groupByLabels: string[]
  filter: UsageFilter
  sources: string[]
  pricing: PricingScope
  /**
   * Also return, per priced token class, its tokens, cost and unpriced tokens (columns `<class>`,
   * `c_<class>`, `u_<class>`): the REST mirrors need the per-modality counters and the line items.
   * Not combined with MODALITY grouping, which already splits by class family.
   */
  classes?: boolean
  /** false: read provider buckets from usage_buckets even where the hourly rollup would serve. */
  rollups?: boolean
}

const CLASS_COLUMNS = PRICED_CLASSES.map((c) => c.column)
const COUNTERS = ['input_tokens', 'output_tokens', ...CLASS_COLUMNS]
const EVENT_COLUMNS = ['endpoint', 'request_type', 'session_id', 'employee_id', 'agent_id']
const raw = (s: string) => sql.raw(s)
const list = (items: SQL[]) => sql.join(items, sql`, `)

function commonFilters(spec: UsageSpec, eventPart: boolean): SQL[] {
  const where: SQL[] = []
  for (const [key, column] of Object.entries(FILTER_COLUMNS) as [keyof typeof FILTER_COLUMNS, string][]) {
    const values = spec.filter[key]
    if (!values?.length) continue
    if (!eventPart && (EVENT_ONLY_FILTERS as readonly string[]).includes(key)) where.push(sql`false`)
    else where.push(sql`${raw(column)} = any(${sql.param(values)}::text[])`)
  }
  if (spec.filter.batch !== undefined) where.push(sql`coalesce(batch, false) = ${spec.filter.batch}`)
  return where
}

/** Provider-reported buckets (from the base table, the hourly rollup, or both gated) as facts. */
function bucketFactsSql(spec: UsageSpec, bucketSources: string[], useRollup: boolean): SQL[] {
  const where = (time: string) => [
    sql`tenant_id = ${spec.tenantId}`,
    sql`${raw(time)} >= ${spec.from.toISOString()}::timestamptz`,
    sql`${raw(time)} < ${spec.to.toISOString()}::timestamptz`,
    sql`source = any(${sql.param(bucketSources)}::text[])`,
    ...commonFilters(spec, false),
  ]
  const eventNulls = raw(EVENT_COLUMNS.map((c) => `null::text as ${c}`).join(', '))
  const base = sql`select start_time as t, provider, account_id, project_id, user_id, api_key_id, model,
      service_tier, batch, source, usage_type, context_tier, inference_geo, ${eventNulls}, '{}'::jsonb as labels, num_model_requests as requests,
      ${raw(COUNTERS.join(', '))}, null::numeric as reported_cost
    from usage_buckets where ${sql.join(where('start_time'), sql` and `)}`
  if (!useRollup) return [base]
  // Both plans, gated by the one-time `aligned` check: exactly one of them reads anything.
  const hourly = sql`select hour as t, provider, account_id, null::text as project_id, null::text as user_id,
      null::text as api_key_id, model, service_tier, batch, source, usage_type, context_tier, inference_geo, ${eventNulls}, '{}'::jsonb as labels,
      case when requests_known > 0 then num_model_requests end as requests, ${raw(COUNTERS.join(', '))},
      null::numeric as reported_cost
    from usage_bucket_hourly where ${sql.join(where('hour'), sql` and `)} and (select ok from aligned)`
  return [hourly, sql`${base} and not (select ok from aligned)`]
}

/** Provider-reported buckets and event rollups as one relation of facts with the same columns. */
function factsSql(spec: UsageSpec, useRollup: boolean): SQL {
  const parts: SQL[] = []
  const bucketSources = spec.sources.filter((s) => s !== 'events')
  if (bucketSources.length) parts.push(...bucketFactsSql(spec, bucketSources, useRollup))
  if (spec.sources.includes('events')) {
    const where = [
      sql`tenant_id = ${spec.tenantId}`,
      sql`hour >= ${spec.from.toISOString()}::timestamptz`,
      sql`hour < ${spec.to.toISOString()}::timestamptz`,
      ...commonFilters(spec, true),
    ]
    parts.push(sql`select hour as t, provider, account_id, project_id, user_id, api_key_id, model,
        service_tier, batch, 'events'::text as source, 'completions'::text as usage_type, null::text as context_tier,
        null::text as inference_geo, ${raw(EVENT_COLUMNS.join(', '))},
        labels, num_model_requests as requests, ${raw(COUNTERS.join(', '))}, reported_cost
      from usage_event_rollups where ${sql.join(where, sql` and `)}`)
  }
  if (parts.length === 0) return sql`select * from (select null::timestamptz as t) x where false`
  return sql.join(parts, sql` union all `)
}

interface Grouping {
  /** Output key columns of the final rows, in order: w, dims, labels (and modality). */
  keys: string[]
  dimColumns: string[]
  labelColumns: string[]
  modality: boolean
}

export function grouping(spec: UsageSpec): Grouping {
  const dimColumns = spec.groupBy
    .filter((d): d is ColumnDimension => d !== 'MODALITY')
    .map((d) => DIMENSIONS[d].column)
  const labelColumns = spec.groupByLabels.map((_, i) => `label_${i}`)
  const modality = spec.groupBy.includes('MODALITY') || !!spec.filter.modalities?.length
  const keys = ['w', ...dimColumns, ...labelColumns, ...(spec.groupBy.includes('MODALITY') ? ['modality'] : [])]
  return { keys, dimColumns, labelColumns, modality }
}

/** The grouped, priced usage as a WITH clause ending in CTE `grouped` (one row per output group). */
export function withGroupedSql(spec: UsageSpec): SQL {
  const g = grouping(spec)
  // Decided once: the `aligned` CTE exists exactly when the facts read the rollup behind it.
  const useRollup = rollupCandidate(spec) && spec.sources.some((s) => s !== 'events')
  const w = windowStartSql(spec.window, sql`t`, spec.timeZone, spec.from)
  const labelExprs = spec.groupByLabels.map((key, i) => sql`labels ->> ${key} as ${raw(`label_${i}`)}`)
  const aggKeys = ['w', ...g.dimColumns, ...g.labelColumns, 'p_provider', 'p_model', 'p_tier', 'p_batch', 'p_ctx', 'p_geo', 'seg']
  const sums = (cols: string[]) => raw(cols.map((c) => `sum(${c}) as ${c}`).join(', '))
  const outDims = raw(g.dimColumns.map((c) => `${c}, `).join(''))

  const agg = sql`select ${w} as w, ${outDims}${labelExprs.length ? sql`${list(labelExprs)}, ` : sql``}
      provider as p_provider, model as p_model, service_tier as p_tier, coalesce(batch, false) as p_batch,
      context_tier as p_ctx, inference_geo as p_geo, ${segmentSql(sql`t`)} as seg,
      sum(requests) as requests, ${sums(COUNTERS)}, sum(reported_cost) as reported_cost
    from facts group by ${raw(aggKeys.map((_, i) => String(i + 1)).join(', '))}`

  const priced = sql`select a.*, ${classCostColumns('a', 'r')}
    from agg a
    left join resolved r on r.p_provider = a.p_provider and r.p_model is not distinct from a.p_model
      and r.p_tier = a.p_tier and r.p_batch = a.p_batch and r.p_ctx is not distinct from a.p_ctx
      and r.p_geo is not distinct from a.p_geo and r.t_rep = a.t_rep`

  if (spec.classes && g.modality) throw new Error('per-class breakdown cannot be combined with MODALITY')
  const finalSql = g.modality ? modalityGroupedSql(spec, g) : plainGroupedSql(g, spec.classes ?? false)
  return sql`with eff as (${effectiveRatesSql(spec.pricing)}),
    pts as (${ratePointsCte}),${useRollup ? sql`
    aligned as (${hourAlignedSql(spec)}),` : sql``}
    facts as (${factsSql(spec, useRollup)}),
    agg0 as (${agg}),
    agg as (select agg0.*, (select arr from pts)[seg] as t_rep from agg0),
    resolved as materialized (${resolvedRatesSql()}),
    priced as (${priced}),
    grouped as (${finalSql})`
}

function costSum(columns: readonly string[]): string {
  return columns.length ? columns.map((c) => `coalesce(c_${c}, 0)`).join(' + ') : '0'
}

/** Per-class sums: tokens, exact cost (0 where unpriced) and unpriced tokens. */
const classSums = raw(CLASS_COLUMNS.map((c) => `sum(${c}) as ${c}, sum(coalesce(c_${c}, 0)) as c_${c}, sum(u_${c}) as u_${c}, `).join(''))

function plainGroupedSql(g: Grouping, classes: boolean): SQL {
  const byCost = (field: string) => PRICED_CLASSES.filter((c) => c.cost === field).map((c) => c.column)
  const cached = PRICED_CLASSES.filter((c) => c.cost === 'cachedInput').map((c) => c.column)
  const uncached = PRICED_CLASSES.filter((c) => c.cost === 'input').map((c) => c.column)
  return sql`select ${raw(g.keys.join(', '))},
      case when count(requests) = 0 then null else sum(requests) end as requests,
      sum(input_tokens) as input_tokens, sum(output_tokens) as output_tokens,
      sum(${raw(cached.join(' + '))}) as cached_input_tokens,
      sum(${raw(uncached.join(' + '))}) as uncached_input_tokens,
      sum(${raw(PRICED_CLASSES.filter((c) => c.cost === 'cacheWrite').map((c) => c.column).join(' + '))}) as cache_write_tokens,
      sum(cache_write_1h) as cache_write_1h_tokens,
      sum(${raw(costSum(byCost('input')))}) as cost_input,
      sum(${raw(costSum(byCost('cachedInput')))}) as cost_cached_input,
      sum(${raw(costSum(byCost('cacheWrite')))}) as cost_cache_write,
      sum(${raw(costSum(byCost('output')))}) as cost_output,
      sum(${raw(CLASS_COLUMNS.map((c) => `u_${c}`).join(' + '))}) as unpriced_tokens,
      ${classes ? classSums : sql``}sum(reported_cost) as reported_cost
    from priced group by ${raw(g.keys.join(', '))}`
}

/** One row per modality (text, audio, image); cache writes count on the text row. */
function modalityGroupedSql(spec: UsageSpec, g: Grouping): SQL {
  const values = (['text', 'audio', 'image'] as const).map((m) => {
    const of = (cost: string) => PRICED_CLASSES.filter((c) => c.modality === m && c.cost === cost).map((c) => c.column)
    const cols = PRICED_CLASSES.filter((c) => c.modality === m).map((c) => c.column)
    const sumOf = (xs: string[]) => (xs.length ? xs.join(' + ') : '0')
    const inputCols = [...of('input'), ...of('cachedInput'), ...of('cacheWrite')]
    return raw(`('${m}', ${sumOf(inputCols)}, ${sumOf(of('output'))}, ${sumOf(of('cachedInput'))}, ${sumOf(of('input'))},
      ${sumOf(of('cacheWrite'))}, ${costSum(of('input'))}, ${costSum(of('cachedInput'))}, ${costSum(of('cacheWrite'))},
      ${costSum(of('output'))}, ${cols.map((c) => `u_${c}`).join(' + ')})`)
  })
  const keep = spec.filter.modalities?.length ? sql` and m.modality = any(${sql.param(spec.filter.modalities)}::text[])` : sql``
  return sql`select ${raw(g.keys.map((k) => (k === 'modality' ? 'm.modality' : `p.${k}`)).join(', '))},
      null::int8 as requests,
      sum(m.input_tokens) as input_tokens, sum(m.output_tokens) as output_tokens,
      sum(m.cached) as cached_input_tokens, sum(m.uncached) as uncached_input_tokens,
      sum(m.cache_write) as cache_write_tokens, 0::int8 as cache_write_1h_tokens,
      sum(m.cost_input) as cost_input, sum(m.cost_cached_input) as cost_cached_input,
      sum(m.cost_cache_write) as cost_cache_write, sum(m.cost_output) as cost_output,
      sum(m.unpriced) as unpriced_tokens, null::numeric as reported_cost
    from priced p cross join lateral (values ${list(values)}) as m(modality, input_tokens, output_tokens, cached,
      uncached, cache_write, cost_input, cost_cached_input, cost_cache_write, cost_output, unpriced)
    where (m.input_tokens > 0 or m.output_tokens > 0)${keep}
    group by ${raw(g.keys.map((k) => (k === 'modality' ? 'm.modality' : `p.${k}`)).join(', '))}`
}

/** Selected output columns of a page, with window end and exact totals as text. */
export function pageSelectSql(spec: UsageSpec): SQL {
  const g = grouping(spec)
  const end = windowEndSql(spec.window, sql`w`, spec.timeZone, spec.to)
  const dims = [...g.dimColumns, ...g.labelColumns, ...(spec.groupBy.includes('MODALITY') ? ['modality'] : [])]
  const classCols = spec.classes
    ? raw(CLASS_COLUMNS.map((c) => `${c}::int8 as ${c}, c_${c}::text as c_${c}, u_${c}::int8 as u_${c}, `).join(''))
    : sql``
  return sql`${classCols}w as window_start, ${end} as window_end, ${raw(dims.map((d) => `${d}, `).join(''))}
    requests::int8 as requests, input_tokens::int8 as input_tokens, output_tokens::int8 as output_tokens,
    cached_input_tokens::int8 as cached_input_tokens, uncached_input_tokens::int8 as uncached_input_tokens,
    cache_write_tokens::int8 as cache_write_tokens, cache_write_1h_tokens::int8 as cache_write_1h_tokens,
    (cost_input + cost_cached_input + cost_cache_write + cost_output)::text as cost_total,
    cost_input::text as cost_input, cost_cached_input::text as cost_cached_input,
    cost_cache_write::text as cost_cache_write, cost_output::text as cost_output,
    unpriced_tokens::int8 as unpriced_tokens, reported_cost::text as reported_cost`
}

export function orderBySql(spec: UsageSpec): SQL {
  return raw(grouping(spec).keys.map((k) => `${k} asc nulls last`).join(', '))
}
