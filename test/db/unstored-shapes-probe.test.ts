import { sql } from 'drizzle-orm'
import t from 'tap'
import { shapeRows, unstoredShapes } from '../../src/db/queries/buckets.js'
import type { BucketShape } from '../../src/ingest/intervals.js'
import { eachEngine, freshDb, uniqueId } from '../helpers.js'

/**
 * The "is every shape stored?" probe of shared bucket writers (`unstoredShapes`, run by every JSON chunk
 * and CSV import whose shapes are stored) must probe the index once per shape. PostgreSQL planned its
 * null-account branch as a hashed subplan instead: every call read and hashed all of the tenant's
 * null-account buckets (100,000 rows, ~100 ms per 1,000-row request in the benchmark, growing with the
 * table). Read from the plan's own row counts: the probe may read at most one stored row per shape.
 */

const HOURS = 240
const KEYS_PER_HOUR = 40
const HOUR_MS = 3_600_000
const START_MS = Date.UTC(2025, 9, 1)

interface PlanNode {
  'Relation Name'?: string
  'Actual Rows'?: number
  'Actual Loops'?: number
  Plans?: PlanNode[]
}

/** Rows the plan's scans of usage_buckets (its partitions) returned, over all their loops. */
function bucketRowsRead(node: PlanNode): number {
  const own = node['Relation Name']?.startsWith('usage_buckets') ? (node['Actual Rows'] ?? 0) * (node['Actual Loops'] ?? 1) : 0
  return own + (node.Plans ?? []).reduce((sum, child) => sum + bucketRowsRead(child), 0)
}

void eachEngine(t, async (t, engine) => {
  const db = await freshDb(t, engine)
  const tenant = uniqueId('probe')
  await db.query('insert into tenants (id, name) values ($1, $1)', [tenant])
  // HOURS × KEYS_PER_HOUR hourly buckets without an account, one report shape per hour.
  await db.query(
    `insert into usage_buckets (tenant_id, provider, start_time, end_time, project_id, model, service_tier, source, input_tokens, shape)
     select $1, 'openai', to_timestamp($2::int8 / 1000) + h * interval '1 hour', to_timestamp($2::int8 / 1000) + (h + 1) * interval '1 hour',
       'proj_' || k, 'gpt-4o', 'default', 'api', 10, 'project_id'
     from generate_series(0, $3::int - 1) h, generate_series(1, $4::int) k`,
    [tenant, START_MS, HOURS, KEYS_PER_HOUR],
  )
  await db.query('analyze usage_buckets')

  const shapes = (shape: string): BucketShape[] =>
    Array.from({ length: HOURS }, (_, h) => ({
      provider: 'openai',
      accountId: null,
      kind: 'completions',
      startMs: START_MS + h * HOUR_MS,
      endMs: START_MS + (h + 1) * HOUR_MS,
      shape,
      leads: h === 0,
    }))

  const probe = async (list: BucketShape[]) => {
    const rows = await db.query<{ u: boolean }>(sql`select exists (${unstoredShapes(tenant, shapeRows(list))}) as u`)
    const plan = await db.query<{ 'QUERY PLAN': unknown }>(
      sql`explain (analyze, format json) select exists (${unstoredShapes(tenant, shapeRows(list))}) as u`,
    )
    const raw = plan[0]!['QUERY PLAN']
    const doc = (typeof raw === 'string' ? JSON.parse(raw) : raw) as { Plan: PlanNode }[]
    return { unstored: rows[0]!.u, read: bucketRowsRead(doc[0]!.Plan) }
  }

  const stored = await probe(shapes('project_id'))
  t.equal(stored.unstored, false, 'every shape is stored')
  t.ok(stored.read <= HOURS, `one stored row per shape at most: read ${stored.read} of ${HOURS * KEYS_PER_HOUR} buckets for ${HOURS} shapes`)

  const other = await probe(shapes('model'))
  t.equal(other.unstored, true, 'a shape not stored is found')
  t.ok(other.read <= HOURS, `read ${other.read} buckets`)
})
