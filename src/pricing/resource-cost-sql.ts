import { sql, type SQL } from 'drizzle-orm'

/**
 * Pricing of resource rows (contract v2 "Pricing, extended"), as SQL over one aggregated row `a`
 * (columns resource, attributes, quantity, byte_seconds) joined to its resolved rate `r` (column
 * unit_prices, the rate's `[{resource, attributes, price}]`).
 *
 * - The unit price is the one for the row's resource whose attributes all equal the row's; the match
 *   with the most attributes wins (ties are refused when the card is written).
 * - `storage_bytes` is a gauge priced per GiB-day: each stored bucket costs bytes × seconds × price ÷
 *   (2^30 × 86,400) and its quantity is bytes × seconds ÷ (2^30 × 3,600) GiB-hours, both rounded half
 *   to even to 18 places — the only rounded figures. Every other resource costs quantity × price, exact.
 * - A resource with no unit price adds nothing and its quantity is reported unpriced, never as $0.
 */

const STORAGE_RESOURCE = 'storage_bytes'
const GIB_DAY_DIVISOR = 2n ** 30n * 86_400n
const GIB_HOUR_DIVISOR = 2n ** 30n * 3_600n
const ROUNDED_PLACES = 18

/**
 * round_half_even(x ÷ divisor, 18) for a numeric x ≥ 0, exactly: PostgreSQL's division keeps only
 * about 16 significant digits and its round() goes half away from zero, so the quotient is taken as
 * an integer division of x × 10^18 (div/mod on numeric are exact) and the tie broken by hand.
 */
function roundedQuotientSql(x: SQL, divisor: bigint): SQL {
  const d = sql.raw(`${divisor}::numeric`)
  const scale = sql.raw(`1${'0'.repeat(ROUNDED_PLACES)}::numeric`)
  const unit = sql.raw(`0.${'0'.repeat(ROUNDED_PLACES - 1)}1`)
  return sql`(select (case when 2 * rq.r > ${d} or (2 * rq.r = ${d} and mod(rq.q, 2) = 1) then rq.q + 1 else rq.q end) * ${unit}
    from (select div(m.v, ${d}) as q, mod(m.v, ${d}) as r from (select (${x}) * ${scale} as v) m) rq)`
}

/** The matched unit price of row `a` under rate `r` (null: unpriced). */
function unitPriceSql(a: string, r: string): SQL {
  const row = sql.raw(a)
  const rate = sql.raw(r)
  return sql`(select (u ->> 'price')::numeric from jsonb_array_elements(coalesce(${rate}.unit_prices, '[]'::jsonb)) u
    where u ->> 'resource' = ${row}.resource and ${row}.attributes @> coalesce(u -> 'attributes', '{}'::jsonb)
    order by (select count(*) from jsonb_object_keys(coalesce(u -> 'attributes', '{}'::jsonb))) desc limit 1)`
}

/**
 * Columns for an aggregated row `a` joined to rate `r`: `unit_price`, `qty` (the quantity as
 * reported: GiB-hours for storage; null for tokens), `c_res` (its cost, 0 when unpriced) and `u_q`
 * (its quantity when unpriced, else 0). Expects `a.byte_seconds` = quantity × seconds for storage rows.
 */
export function resourceCostColumns(a: string, r: string): SQL {
  const row = sql.raw(a)
  const storage = sql`${row}.resource = ${STORAGE_RESOURCE}`
  const qty = sql`case when ${row}.resource = 'tokens' then null
      when ${storage} then ${roundedQuotientSql(sql`${row}.byte_seconds`, GIB_HOUR_DIVISOR)}
      else ${row}.quantity end`
  return sql`${qty} as qty,
    case when ${row}.resource = 'tokens' or up.unit_price is null then 0::numeric
      when ${storage} then ${roundedQuotientSql(sql`${row}.byte_seconds * up.unit_price`, GIB_DAY_DIVISOR)}
      else ${row}.quantity * up.unit_price end as c_res,
    case when ${row}.resource <> 'tokens' and up.unit_price is null then ${qty} else 0::numeric end as u_q`
}

/** The lateral join that finds row `a`'s unit price under rate `r` (as `up.unit_price`). */
export function unitPriceJoinSql(a: string, r: string): SQL {
  return sql`left join lateral (select case when ${sql.raw(a)}.resource = 'tokens' then null else ${unitPriceSql(a, r)} end as unit_price) up on true`
}
