import { sql } from 'drizzle-orm'
import type { Db } from '../db/client.js'
import { inCodePointOrder } from '../db/orm.js'
import { normalizeDecimal } from '../decimal/decimal-text.js'
import type { CostsResult } from './costs-result.js'

/**
 * Billed costs in OpenAI's costs page shape (`GET /v1/organization/costs?cost_source=billed`): summed per
 * daily bucket and the `group_by` fields asked for, as the provider billed them. Buckets follow OpenAI's
 * arithmetic (the caller's): UTC days, the first one starting at `from`.
 */

/** Billed amounts are always known: exact, complete, with no unpriced tokens. */
export interface BilledCostsResult extends CostsResult {
  amount: { value: number; value_exact: string; currency: string }
  complete: true
  unpriced_tokens: 0
  /** The provider account the costs were billed to: only when grouped by it (the cost export's organization_id). */
  account_id?: string | null
  /** The rest of a billed cost's natural key: only when grouped by it (the cost export's trailing columns). */
  detail?: BilledDetail
  /** With `detail`: the costs' own start and end (unix seconds), which a cost longer than a day does not share with its bucket. */
  span?: { start: number; end: number }
}

/** What a billed cost stores beyond OpenAI's cost fields (Anthropic's token type, tiers…), as text. */
export const BILLED_DETAIL_COLUMNS = ['provider', 'model', 'token_type', 'cost_type', 'service_tier', 'batch', 'context_tier', 'inference_geo'] as const
export type BilledDetail = Record<(typeof BILLED_DETAIL_COLUMNS)[number], string | null>

export interface BilledReportQuery {
  tenantId: string
  /** Unix seconds: [from, to) by each cost's start_time. */
  from: number
  to: number
  width: number
  /**
   * `accountId` and `detail`: not costs API group_bys; the cost export always splits by them (its
   * organization_id and trailing columns), so that posted back it stores the same costs under the same keys.
   */
  groupBy: { projectId: boolean; lineItem: boolean; apiKeyId: boolean; accountId?: boolean; detail?: boolean }
  projectIds?: string[] | undefined
  apiKeyIds?: string[] | undefined
  signal?: AbortSignal | undefined
}

interface Aggregate extends Partial<BilledDetail> {
  bucket: number
  span_start?: string
  span_end?: string
  line_item: string | null
  project_id: string | null
  api_key_id: string | null
  account_id: string | null
  amount: string
  quantity: string | null
  quantity_unit: string | null
}

/** Results per bucket start (unix seconds). */
export async function billedCostResults(db: Db, q: BilledReportQuery): Promise<Map<number, BilledCostsResult[]>> {
  const col = (on: boolean, name: string) => sql.raw(on ? name : `null::text as ${name.split('.').pop()}`)
  const bucket = sql`greatest(${q.from}::int8, floor(extract(epoch from start_time) / ${q.width})::int8 * ${q.width})`
  const detail = q.groupBy.detail === true
  // The export also keeps each cost's own (start, end): a week's cost written as its first day's bucket was
  // posted back as a one-day cost (a 409 beside the stored week, or a day's cost where a week was billed).
  const detailKeys = detail
    ? [...BILLED_DETAIL_COLUMNS.map((c) => (c === 'batch' ? 'batch::text as batch' : c)), 'extract(epoch from start_time)::text as span_start', 'extract(epoch from end_time)::text as span_end']
    : []
  // Text in code-point order, whatever the database's collation (inCodePointOrder); every key but the bucket is text.
  const textKeys = ['account_id', 'line_item', 'project_id', 'api_key_id', ...(detail ? [...BILLED_DETAIL_COLUMNS, 'span_start', 'span_end'] : [])]
  const order = sql.join([sql`bucket`, ...textKeys.map((k) => sql`${inCodePointOrder(sql.raw(k))} nulls last`)], sql`, `)
  const rows = await db.query<Aggregate>(
    sql`select * from (select ${bucket} as bucket, ${col(q.groupBy.lineItem, 'line_item')}, ${col(q.groupBy.projectId, 'project_id')},
        ${col(q.groupBy.apiKeyId, 'api_key_id')}, ${col(q.groupBy.accountId === true, 'account_id')},
        ${sql.raw(detailKeys.map((k) => `${k}, `).join(''))}sum(amount)::text as amount,
        -- a quantity only where every summed row reported one, in one unit; its unit only beside it (as the
        -- computed side: a result mixing units, or lacking a quantity, has neither)
        case when count(quantity) = count(*) and count(quantity_unit) = count(*) and count(distinct quantity_unit) = 1 then sum(quantity)::text end as quantity,
        case when count(quantity) = count(*) and count(quantity_unit) = count(*) and count(distinct quantity_unit) = 1 then min(quantity_unit) end as quantity_unit
      from billed_costs
      where tenant_id = ${q.tenantId} and start_time >= to_timestamp(${q.from}) and start_time < to_timestamp(${q.to})
        ${q.projectIds?.length ? sql`and project_id = any(${sql.param(q.projectIds)}::text[])` : sql``}
        ${q.apiKeyIds?.length ? sql`and api_key_id = any(${sql.param(q.apiKeyIds)}::text[])` : sql``}
      group by 1, 2, 3, 4, 5${sql.raw(detailKeys.map((_, i) => `, ${i + 6}`).join(''))}) grouped
      order by ${order}`,
    [],
    { signal: q.signal },
  )
  const out = new Map<number, BilledCostsResult[]>()
  for (const r of rows) {
    const list = out.get(Number(r.bucket)) ?? []
    list.push({
      object: 'organization.costs.result',
      // A JSON number for clients typed for OpenAI; the exact amount is value_exact.
      amount: { value: Number(r.amount), value_exact: normalizeDecimal(r.amount), currency: 'usd' },
      line_item: r.line_item,
      project_id: r.project_id,
      api_key_id: r.api_key_id,
      quantity: r.quantity === null ? null : Number(r.quantity),
      quantity_exact: r.quantity === null ? null : normalizeDecimal(r.quantity),
      quantity_unit: r.quantity_unit,
      complete: true,
      unpriced_tokens: 0,
      ...(q.groupBy.accountId ? { account_id: r.account_id } : {}),
      ...(detail ? { detail: Object.fromEntries(BILLED_DETAIL_COLUMNS.map((c) => [c, r[c] ?? null])) as BilledDetail, span: { start: Number(r.span_start), end: Number(r.span_end) } } : {}),
    })
    out.set(Number(r.bucket), list)
  }
  return out
}

/**
 * The start (unix seconds) of the UTC-grid bucket of `width` holding the tenant's first billed cost in
 * [from, to), not before `from`; null when there is none. Lets a whole-range export skip what holds no cost.
 */
export async function firstBilledBucket(db: Db, q: { tenantId: string; from: number; to: number; width: number; signal?: AbortSignal | undefined }): Promise<number | null> {
  const [row] = await db.query<{ first: string | null }>(
    sql`select (floor(extract(epoch from min(start_time)) / ${q.width})::int8 * ${q.width})::text as first from billed_costs
      where tenant_id = ${q.tenantId} and start_time >= to_timestamp(${q.from}) and start_time < to_timestamp(${q.to})`,
    [],
    { signal: q.signal },
  )
  return row?.first == null ? null : Math.max(q.from, Number(row.first))
}
