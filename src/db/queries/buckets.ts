import { sql, type SQL } from 'drizzle-orm'
import type { NormalisedBucket } from '../../ingest/bucket.js'
import type { Db } from '../client.js'

/**
 * Bucket ingestion in set-based SQL. Rows are staged in chunks into a temporary table (one
 * `unnest` insert per chunk), summed by natural key in SQL, checked for overlaps, then upserted in
 * chunks. Everything runs inside the caller's transaction; the temp tables drop at commit/rollback.
 */

export const STAGE_CHUNK = 5000
const MAX_COUNTER = '9007199254740991'

const DIMENSIONS = ['provider', 'account_id', 'start_time', 'end_time', 'project_id', 'user_id', 'api_key_id', 'model', 'service_tier', 'batch'] as const
const COUNTERS = [
  'num_model_requests',
  'input_tokens',
  'output_tokens',
  'in_text',
  'in_audio',
  'in_image',
  'cached_text',
  'cached_audio',
  'cached_image',
  'cache_write',
  'out_text',
  'out_audio',
  'out_image',
] as const

const raw = (names: readonly string[], prefix = '') => sql.raw(names.map((n) => prefix + n).join(', '))

/** A chunk of rows as one text array per column (postgres.js mis-types other arrays; SQL casts). */
export class StageChunk {
  readonly ord: string[] = []
  readonly cols: Record<(typeof DIMENSIONS)[number] | (typeof COUNTERS)[number], (string | null)[]> = Object.fromEntries(
    [...DIMENSIONS, ...COUNTERS].map((c) => [c, []]),
  ) as never

  get length(): number {
    return this.ord.length
  }

  push(ord: number, b: NormalisedBucket): void {
    const c = this.cols
    const t = b.classes
    this.ord.push(String(ord))
    c.provider.push(b.provider)
    c.account_id.push(b.accountId)
    c.start_time.push(new Date(b.startMs).toISOString())
    c.end_time.push(new Date(b.endMs).toISOString())
    c.project_id.push(b.projectId)
    c.user_id.push(b.userId)
    c.api_key_id.push(b.apiKeyId)
    c.model.push(b.model)
    c.service_tier.push(b.serviceTier)
    c.batch.push(b.batch === null ? null : String(b.batch))
    c.num_model_requests.push(t.requests === null ? null : String(t.requests))
    const counters = [t.inputTokens, t.outputTokens, t.inText, t.inAudio, t.inImage, t.cachedText, t.cachedAudio, t.cachedImage, t.cacheWrite, t.outText, t.outAudio, t.outImage]
    COUNTERS.slice(1).forEach((name, i) => c[name].push(String(counters[i])))
  }
}

const castFor = (col: string): string =>
  col === 'start_time' || col === 'end_time' ? 'timestamptz[]' : col === 'batch' ? 'bool[]' : (COUNTERS as readonly string[]).includes(col) ? 'int8[]' : 'text[]'

export async function createStage(tx: Db): Promise<void> {
  await tx.query(`create temp table bucket_stage (
    ord int8 not null, provider text not null, account_id text, start_time timestamptz not null, end_time timestamptz not null,
    project_id text, user_id text, api_key_id text, model text, service_tier text not null, batch bool,
    ${COUNTERS.map((c) => `${c} int8`).join(', ')}) on commit drop`)
}

export async function stageChunk(tx: Db, chunk: StageChunk): Promise<void> {
  if (chunk.length === 0) return
  const arrays: SQL[] = [sql`${sql.param(chunk.ord)}::text[]::int8[]`]
  for (const col of [...DIMENSIONS, ...COUNTERS]) arrays.push(sql`${sql.param(chunk.cols[col])}::text[]::${sql.raw(castFor(col))}`)
  await tx.query(sql`insert into bucket_stage (ord, ${raw(DIMENSIONS)}, ${raw(COUNTERS)}) select * from unnest(${sql.join(arrays, sql`, `)})`)
}

/** Sums staged rows that share a natural key; returns the number of distinct keys. */
export async function mergeStage(tx: Db): Promise<number> {
  await tx.query(`create temp table bucket_merge on commit drop as
    select row_number() over (order by min(ord)) as rn, min(ord) as ord, ${DIMENSIONS.join(', ')},
      ${COUNTERS.map((c) => `sum(${c}) as ${c}`).join(', ')}
    from bucket_stage group by ${DIMENSIONS.join(', ')}`)
  const rows = await tx.query<{ n: number }>('select count(*)::int8 as n from bucket_merge')
  return rows[0]!.n
}

/** Staged keys whose sums exceed 2^53 − 1 (each part was in range, the sum is not). */
export async function oversizedSums(tx: Db): Promise<number[]> {
  const rows = await tx.query<{ ord: number }>(
    `select ord from bucket_merge where greatest(${COUNTERS.map((c) => `coalesce(${c}, 0)`).join(', ')}) > ${MAX_COUNTER} order by ord limit 1000`,
  )
  return rows.map((r) => r.ord)
}

// Which of the nullable dimensions are null: buckets may share a time range only with the same set.
const NULL_MASK = `((project_id is null)::int + 2 * (user_id is null)::int + 4 * (api_key_id is null)::int + 8 * (model is null)::int + 16 * (batch is null)::int)`

export interface OverlapSide {
  incoming: boolean
  /** The row's index/line when incoming, the stored bucket id otherwise. */
  ref: number
  start_time: Date
  end_time: Date
  model: string | null
  project_id: string | null
  user_id: string | null
  api_key_id: string | null
  batch: boolean | null
}

/**
 * The overlap rule, set-based: within tenant/provider/account, buckets (incoming and stored) may
 * overlap in time only with the same (start, end) and the same null dimensions. Intervals are
 * sorted and compared with the running maximum end (O(n log n)); only a violation's partner is then
 * looked up pairwise. Stored rows are bounded by the request's time range widened by the longest
 * stored bucket, so the tenant's history is not scanned row by row.
 */
export async function findOverlap(tx: Db, tenantId: string): Promise<[OverlapSide, OverlapSide] | undefined> {
  const cols = `provider, account_id, start_time, end_time, model, project_id, user_id, api_key_id, batch, ${NULL_MASK} as mask`
  await tx.query(
    sql`create temp table bucket_cand on commit drop as
      select true as incoming, ord as ref, ${sql.raw(cols)} from bucket_merge
      union all
      select false, s.id, ${sql.raw(cols.replace(/\b(provider|account_id|start_time|end_time|model|project_id|user_id|api_key_id|batch)\b/g, 's.$1'))}
      from usage_buckets s,
        (select min(start_time) as lo, max(end_time) as hi from bucket_merge) b,
        (select max(end_time - start_time) as len from usage_buckets where tenant_id = ${tenantId}) l
      where s.tenant_id = ${tenantId} and s.start_time < b.hi and s.start_time >= b.lo - l.len and s.end_time > b.lo`,
  )
  const flagged = await tx.query<{ provider: string; account_id: string | null; start_time: Date; end_time: Date }>(
    `select provider, account_id, start_time, end_time from (
       select *, max(end_time) over (partition by provider, account_id order by start_time, end_time
                                     rows between unbounded preceding and 1 preceding) as prev_end
       from (select provider, account_id, start_time, end_time, count(distinct mask) as masks
             from bucket_cand group by provider, account_id, start_time, end_time) iv
     ) w where masks > 1 or prev_end > start_time limit 100`,
  )
  if (flagged.length === 0) return undefined
  const side = (p: string) =>
    `${p}.incoming, ${p}.ref, ${p}.start_time, ${p}.end_time, ${p}.model, ${p}.project_id, ${p}.user_id, ${p}.api_key_id, ${p}.batch`
  const pairs = await tx.query<Record<string, unknown>>(
    `select ${side('a')}, ${side('b').replace(/b\.(\w+)/g, 'b.$1 as b_$1')}
     from bucket_cand a join bucket_cand b
       on b.provider = a.provider and b.account_id is not distinct from a.account_id
      and b.start_time < a.end_time and a.start_time < b.end_time
      and not (b.start_time = a.start_time and b.end_time = a.end_time and b.mask = a.mask)
     where a.incoming and (not b.incoming or b.ref > a.ref)
     order by b.incoming, a.ref limit 1`,
  )
  const pair = pairs[0]
  if (!pair) return undefined
  const pick = (prefix: string): OverlapSide =>
    Object.fromEntries(
      ['incoming', 'ref', 'start_time', 'end_time', 'model', 'project_id', 'user_id', 'api_key_id', 'batch'].map((k) => [k, pair[prefix + k]]),
    ) as unknown as OverlapSide
  return [pick(''), pick('b_')]
}

export interface UpsertCounts {
  created: number
  replaced: number
}

/**
 * Upserts merged rows `rn` in (lo, hi]. Equal counters leave the stored row alone (source and
 * updated_at untouched): the DO UPDATE's WHERE skips it, so it is neither returned nor rewritten.
 */
export async function upsertMerged(tx: Db, tenantId: string, source: string, lo: number, hi: number): Promise<UpsertCounts> {
  const rows = await tx.query<UpsertCounts>(
    sql`with up as (
      insert into usage_buckets (tenant_id, ${raw(DIMENSIONS)}, ${raw(COUNTERS)}, source, updated_at)
      select ${tenantId}, ${raw(DIMENSIONS)}, ${raw(COUNTERS.map((c) => `${c}::int8`))}, ${source}, now()
      from bucket_merge where rn > ${lo} and rn <= ${hi}
      on conflict on constraint usage_buckets_natural_key do update set
        ${raw(COUNTERS.map((c) => `${c} = excluded.${c}`))}, source = excluded.source, updated_at = excluded.updated_at
      where (${raw(COUNTERS, 'usage_buckets.')}) is distinct from (${raw(COUNTERS, 'excluded.')})
      returning (xmax = 0) as inserted)
    select count(*) filter (where inserted)::int8 as created, count(*) filter (where not inserted)::int8 as replaced from up`,
  )
  return rows[0]!
}

export interface DeleteRange {
  tenantId: string
  start: Date
  end: Date
  source?: string | undefined
  accountId?: string | undefined
}

/** Removes the tenant's stored buckets inside [start, end) so another granularity can be imported. */
export async function deleteBuckets(db: Db, r: DeleteRange): Promise<number> {
  const rows = await db.query<{ n: number }>(
    sql`with d as (
      delete from usage_buckets where tenant_id = ${r.tenantId}
        and start_time >= ${r.start.toISOString()}::timestamptz and end_time <= ${r.end.toISOString()}::timestamptz
        ${r.source !== undefined ? sql`and source = ${r.source}` : sql``}
        ${r.accountId !== undefined ? sql`and account_id = ${r.accountId}` : sql``}
      returning 1)
    select count(*)::int8 as n from d`,
  )
  return rows[0]!.n
}
