import { sql } from 'drizzle-orm'
import type { BilledRow, IndexedBilledRow } from '../../billing/billed-row.js'
import { naturalKeyHash } from '../../billing/billed-row.js'
import type { BucketShape } from '../../ingest/intervals.js'
import { arrayParam } from '../array-literal.js'
import type { Db } from '../client.js'
import { BILLED_TARGET, lockAccounts, storedClash } from './buckets.js'

/** Billed costs (table billed_costs): set-based upsert by natural key, the report-shape probe, range delete. */

const COLUMNS = [
  ['provider', 'text'],
  ['account_id', 'text'],
  ['start_time', 'timestamptz'],
  ['end_time', 'timestamptz'],
  ['project_id', 'text'],
  ['api_key_id', 'text'],
  ['line_item', 'text'],
  ['model', 'text'],
  ['token_type', 'text'],
  ['cost_type', 'text'],
  ['service_tier', 'text'],
  ['batch', 'bool'],
  ['context_tier', 'text'],
  ['inference_geo', 'text'],
  ['amount', 'numeric'],
  ['currency', 'text'],
  ['quantity', 'numeric'],
  ['quantity_unit', 'text'],
  ['shape', 'text'],
  ['key_hash', 'text'],
] as const

const values = (r: BilledRow): (string | null)[] => [
  r.provider,
  r.accountId,
  new Date(r.startMs).toISOString(),
  new Date(r.endMs).toISOString(),
  r.projectId,
  r.apiKeyId,
  r.lineItem,
  r.model,
  r.tokenType,
  r.costType,
  r.serviceTier,
  r.batch === null ? null : String(r.batch),
  r.contextTier,
  r.inferenceGeo,
  r.amount,
  r.currency,
  r.quantity,
  r.quantityUnit,
  r.shape ?? '',
  naturalKeyHash(r).toString('hex'),
]

/** Values that may change under one natural key; equal ones leave the stored row (and its source) alone. */
const VALUE_COLUMNS = ['amount', 'currency', 'quantity', 'quantity_unit', 'cost_type', 'inference_geo', 'shape']

const CHUNK = 5000

export async function upsertBilledCosts(tx: Db, tenantId: string, source: string, rows: readonly IndexedBilledRow[]): Promise<{ created: number; replaced: number }> {
  let created = 0
  let replaced = 0
  for (let lo = 0; lo < rows.length; lo += CHUNK) {
    const cols: (string | null)[][] = COLUMNS.map(() => [])
    for (const { row } of rows.slice(lo, lo + CHUNK)) values(row).forEach((v, i) => cols[i]!.push(v))
    // One array literal per column (arrayParam): a JS array would be serialised element by element by
    // the driver's type serializer, and postgres.js's boolean one stored the text "true" as false.
    const unnest = sql.join(
      COLUMNS.map(([, type], i) => arrayParam(cols[i]!, `${type}[]`)),
      sql`, `,
    )
    const names = COLUMNS.map(([n]) => n)
    const insertCols = names.map((n) => (n === 'key_hash' ? `decode(key_hash, 'hex')` : n)).join(', ')
    const [counts] = await tx.query<{ created: number; replaced: number }>(sql`with up as (
        insert into billed_costs (tenant_id, ${sql.raw(names.join(', '))}, source)
        select ${tenantId}, ${sql.raw(insertCols)}, ${source} from unnest(${unnest}) as u(${sql.raw(names.join(', '))})
        on conflict (tenant_id, start_time, key_hash) do update set
          ${sql.raw([...VALUE_COLUMNS, 'source'].map((c) => `${c} = excluded.${c}`).join(', '))}, updated_at = now()
        where (${sql.raw(VALUE_COLUMNS.map((c) => `billed_costs.${c}`).join(', '))}) is distinct from (${sql.raw(VALUE_COLUMNS.map((c) => `excluded.${c}`).join(', '))})
        returning (xmax = 0) as inserted)
      select count(*) filter (where inserted)::int8 as created, count(*) filter (where not inserted)::int8 as replaced from up`)
    created += counts!.created
    replaced += counts!.replaced
  }
  return { created, replaced }
}

export interface BilledClash {
  shape_no: number
  id: number
  start_time: Date
  end_time: Date
  shape: string
  line_item: string | null
  project_id: string | null
}

/**
 * The first shape (1-based `shape_no`) that a stored billed row may not sit beside — same provider
 * account, overlapping in time, and not the same (start, end, shape) — and that row. Two index probes
 * per shape (`storedClash`). A lateral search for overlapping rows can bound start_time only from
 * above, and its `or` for a null account kept it off the index altogether: it read the whole table once
 * per shape (425,000 stored costs and a year uploaded ran past the 30 s statement timeout). Run under
 * the accounts' locks.
 */
export function findBilledClash(tx: Db, tenantId: string, shapes: readonly BucketShape[]): Promise<BilledClash | undefined> {
  if (!shapes.length) return Promise.resolve(undefined)
  return storedClash<BilledClash>(tx, tenantId, shapes, BILLED_TARGET, 's.id, s.line_item, s.project_id')
}

/**
 * Removes the tenant's billed costs starting inside [start, end), under the locks of the accounts it
 * deletes from, as the bucket delete does (`deleteBuckets`): an upload writes under those locks, 5,000 rows
 * per statement, so a delete that took none could delete rows the upload's next statement was about to
 * write while waiting for one the upload held — a deadlock, in which PostgreSQL aborted the delete (500).
 */
export async function deleteBilledCosts(db: Db, q: { tenantId: string; start: Date; end: Date; accountId?: string | undefined }): Promise<number> {
  const where = sql`tenant_id = ${q.tenantId} and start_time >= ${q.start.toISOString()}::timestamptz
        and start_time < ${q.end.toISOString()}::timestamptz
        ${q.accountId === undefined ? sql`` : sql`and account_id = ${q.accountId}`}`
  return db.transaction(async (tx) => {
    await lockAccounts(tx, q.tenantId, sql`select provider, account_id from billed_costs where ${where}`)
    const [r] = await tx.query<{ deleted: number }>(sql`with d as (delete from billed_costs where ${where} returning 1)
      select count(*)::int8 as deleted from d`)
    return r!.deleted
  })
}
