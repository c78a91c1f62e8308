import { sql } from 'drizzle-orm'
import type { BucketShape } from '../../ingest/intervals.js'
import type { IndexedResource } from '../../ingest/resource.js'
import type { Db } from '../client.js'
import { conflictProbe, RESOURCE_TARGET, shapeRows, storedClash, UPSERT_STAMP, type ChunkResult } from './buckets.js'

/**
 * Resource rows in set-based SQL, as buckets.ts does for token buckets: one statement per chunk that
 * probes the report-shape rule (on the first chunk), then inserts or replaces by natural key. Equal
 * rows are left alone (neither returned nor rewritten).
 */

const CHUNK = 5000

const COLUMNS = [
  ['provider', 'text'],
  ['account_id', 'text'],
  ['start_time', 'timestamptz'],
  ['end_time', 'timestamptz'],
  ['project_id', 'text'],
  ['user_id', 'text'],
  ['api_key_id', 'text'],
  ['model', 'text'],
  ['service_tier', 'text'],
  ['batch', 'bool'],
  ['context_tier', 'text'],
  ['inference_geo', 'text'],
  ['resource', 'text'],
  ['attributes', 'jsonb'],
  ['quantity', 'numeric'],
  ['num_model_requests', 'int8'],
  ['reported_cost', 'numeric'],
  ['shape', 'text'],
] as const

const VALUES = ['quantity', 'num_model_requests', 'reported_cost']

function columnValues(rows: readonly IndexedResource[]): (string | null)[][] {
  const cols: (string | null)[][] = COLUMNS.map(() => [])
  for (const { resource: r } of rows) {
    const values = [
      r.provider,
      r.accountId,
      new Date(r.startMs).toISOString(),
      new Date(r.endMs).toISOString(),
      r.projectId,
      r.userId,
      r.apiKeyId,
      r.model,
      r.serviceTier,
      r.batch === null ? null : String(r.batch),
      r.contextTier,
      r.inferenceGeo,
      r.resource,
      JSON.stringify(r.attributes),
      r.quantity,
      r.requests === null ? null : String(r.requests),
      r.reportedCost,
      r.shape ?? '',
    ]
    values.forEach((v, i) => cols[i]!.push(v))
  }
  return cols
}

/** Upserts resource rows (already merged and shaped); `shapes` are probed first and nothing is written on a clash. */
export async function upsertResources(db: Db, tenantId: string, source: string, rows: readonly IndexedResource[], shapes: readonly BucketShape[]): Promise<ChunkResult> {
  const total: ChunkResult = { conflict: false, created: 0, replaced: 0 }
  for (let lo = 0; lo < rows.length; lo += CHUNK) {
    const cols = columnValues(rows.slice(lo, lo + CHUNK))
    const names = sql.raw(COLUMNS.map(([n]) => n).join(', '))
    const arrays = sql.join(
      COLUMNS.map(([, type], i) => sql`${sql.param(cols[i])}::text[]::${sql.raw(type)}[]`),
      sql`, `,
    )
    const conflict = lo === 0 && shapes.length > 0 ? conflictProbe(tenantId, shapeRows(shapes), RESOURCE_TARGET) : sql`select 1 where false`
    const [r] = await db.query<ChunkResult>(
      sql`with conflict as (${conflict}),
      up as (
        insert into usage_resources (tenant_id, ${names}, source, updated_at)
        select ${tenantId}, ${names}, ${source}, now()
        from unnest(${arrays}) as u(${names})
        where not exists (select 1 from conflict)
        on conflict (tenant_id, start_time, key_hash) do update set
          ${sql.raw(VALUES.map((c) => `${c} = excluded.${c}`).join(', '))}, source = excluded.source, ${UPSERT_STAMP.set}
        where (${sql.raw(VALUES.map((c) => `usage_resources.${c}`).join(', '))}) is distinct from (${sql.raw(VALUES.map((c) => `excluded.${c}`).join(', '))})
        ${UPSERT_STAMP.returning})
      select exists (select 1 from conflict) as conflict,
        count(*) filter (where inserted)::int8 as created, count(*) filter (where not inserted)::int8 as replaced from up`,
    )
    if (r!.conflict) return { conflict: true, created: 0, replaced: 0 }
    total.created += r!.created
    total.replaced += r!.replaced
  }
  return total
}

export interface StoredResource {
  id: number
  resource: string
  model: string | null
  project_id: string | null
  attributes: Record<string, string>
  start_time: Date
  end_time: Date
  shape: string
  shape_no: number
}

/** The first incoming shape (1-based `shape_no`) that clashes with a stored resource, and that row. */
export function findResourceClash(db: Db, tenantId: string, shapes: readonly BucketShape[]): Promise<StoredResource | undefined> {
  return storedClash<StoredResource>(db, tenantId, shapes, RESOURCE_TARGET, 's.id, s.resource, s.model, s.project_id, s.attributes')
}
