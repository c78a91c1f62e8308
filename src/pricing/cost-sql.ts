import { sql, type SQL } from 'drizzle-orm'
import { PRICED_CLASSES } from '../db/token-columns.js'

/**
 * Query-time pricing as SQL fragments, shared by GraphQL and the REST mirrors.
 *
 * Usage is aggregated first by the keys that decide the rate (provider, model, tier, batch) and by the
 * "rate segment" of its start_time — the interval between two consecutive price changes on the card —
 * and only then joined to the rates. Within a segment no rate starts or ends, so every bucket in it is
 * priced by the same rate as at the segment's first instant. This keeps pricing to a join against a
 * handful of rows instead of a per-row lookup or a giant CASE.
 */

export interface PricingScope {
  cardId: number
  /** Rates recorded after this instant are ignored, and so are corrections recorded after it. */
  asOf: Date
}

/** The card's rates as they stood at `asOf`: each with the instant it stops applying. */
export function effectiveRatesSql(scope: PricingScope): SQL {
  const asOf = scope.asOf.toISOString()
  return sql`select r.*, least(
        coalesce(r.effective_to, 'infinity'::timestamptz),
        coalesce(lead(r.effective_from) over (
          partition by r.provider, r.model, r.service_tier, r.batch, r.context_tier, r.inference_geo order by r.effective_from, r.id
        ), 'infinity'::timestamptz)
      ) as effective_until
    from rates r
    where r.card_id = ${scope.cardId}
      and r.recorded_at <= ${asOf}::timestamptz
      -- the superseded ids, computed once (a correlated anti-join ran as a nested loop over the card)
      and not (r.id = any(array(
        select s.supersedes from rates s
        where s.card_id = ${scope.cardId} and s.supersedes is not null and s.recorded_at <= ${asOf}::timestamptz
      )))`
}

/**
 * The instants at which any price on the card changes, as one sorted array (CTE `pts`, evaluated
 * once): the segment boundaries for aggregation. Expects CTE `eff` = effectiveRatesSql.
 */
export const ratePointsCte = sql`select array_agg(p order by p) as arr from (
    select '-infinity'::timestamptz as p
    union select effective_from from eff
    union select effective_to from eff where effective_to is not null
  ) x`

/** SQL for the segment index of timestamptz `t` (constant between two price changes). */
export function segmentSql(t: SQL): SQL {
  return sql`width_bucket(${t}, (select arr from pts))`
}

/**
 * CTE `one_seg`: the segment of every instant in [from, to) when no price on the card changes strictly
 * inside the range (a change at `from` itself starts the range's segment), else null. Expects CTE `pts`.
 */
export function oneSegmentSql(from: Date, to: Date): SQL {
  const f = sql`${from.toISOString()}::timestamptz`
  return sql`select case when not exists (select 1 from unnest(arr) p where p > ${f} and p < ${to.toISOString()}::timestamptz)
      then width_bucket(${f}, arr) end as s from pts`
}

/**
 * Joins each aggregated row (`agg`, with rate keys p_provider, p_model, p_tier, p_batch, p_ctx, p_geo
 * and a representative instant t_rep) to the ONE rate in force for it (contract v2 "Pricing,
 * extended"): by model first — the exact id, then the longest prefix pattern (`gpt-5-mini*` beats
 * `gpt-5*`), then `*` — then a rate for the row's context tier over one for any tier (null), then one
 * for its inference geo over one for any geo; same service tier and batch flag. Every price of the row
 * comes from that rate. Tokens of a null model stay unpriced even under `*` (v1.1); resources of a null
 * model are priced by `*` (their unit prices are not masked).
 */
export function resolvedRatesSql(): SQL {
  return sql`select k.p_provider, k.p_model, k.p_tier, k.p_batch, k.p_ctx, k.p_geo, k.t_rep, r.id as rate_id, r.unit_prices,
      ${sql.join(
        PRICED_CLASSES.map((c) => sql`case when k.p_model is not null then r.${sql.raw(c.price)} end as ${sql.raw(`price_${c.price}`)}`),
        sql`, `,
      )}
    from (select distinct p_provider, p_model, p_tier, p_batch, p_ctx, p_geo, t_rep from agg) k
    left join lateral (
      select e.* from eff e
      where e.provider = k.p_provider and e.service_tier = k.p_tier and e.batch = k.p_batch
        and (e.model = k.p_model or e.model = '*' or (right(e.model, 1) = '*' and starts_with(k.p_model, rtrim(e.model, '*'))))
        and (e.context_tier is null or e.context_tier = k.p_ctx)
        and (e.inference_geo is null or e.inference_geo = k.p_geo)
        and e.effective_from <= k.t_rep and k.t_rep < e.effective_until
      order by (e.model = k.p_model) desc, length(e.model) desc, (e.context_tier is not null) desc, (e.inference_geo is not null) desc
      limit 1
    ) r on true`
}

/** Per priced class: its cost (0 when unpriced) and its unpriced token count, for a joined row. */
export function classCostColumns(agg: string, rate: string): SQL {
  return sql.join(
    PRICED_CLASSES.map((c) => {
      const tokens = sql.raw(`${agg}.${c.column}`)
      const price = sql.raw(`${rate}.price_${c.price}`)
      return sql`case when ${price} is null then 0::numeric else ${tokens} * ${price} * 0.000001 end as ${sql.raw(`c_${c.column}`)},
        case when ${price} is null then ${tokens} else 0 end as ${sql.raw(`u_${c.column}`)}`
    }),
    sql`, `,
  )
}
