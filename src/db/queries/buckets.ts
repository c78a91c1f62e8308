import { sql, type SQL } from 'drizzle-orm'
import type { NormalisedBucket } from '../../ingest/bucket.js'
import type { BucketShape } from '../../ingest/intervals.js'
import type { Db } from '../client.js'

/**
 * Bucket ingestion in set-based SQL. In-memory rows (JSON) go straight to `upsertChunk`. Streamed
 * rows (CSV) are staged in chunks into a temporary table, checked for overlaps, then summed by
 * natural key and upserted in one statement. Staging runs inside the caller's transaction; the temp
 * tables drop at commit/rollback.
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
    c.start_time.push(iso(b.startMs))
    c.end_time.push(iso(b.endMs))
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

// Rows of one import share few distinct times; formatting each with toISOString was a tenth of the
// CSV path's JS time. A bounded memo (pure, so safe to share).
const isoMemo = new Map<number, string>()
function iso(ms: number): string {
  let text = isoMemo.get(ms)
  if (text === undefined) {
    if (isoMemo.size >= 4096) isoMemo.clear()
    isoMemo.set(ms, (text = new Date(ms).toISOString()))
  }
  return text
}

// COPY text format: backslash, tab, newline and carriage return are escaped; \N is null.
const copyText = (v: string | null): string => (v === null ? '\\N' : /[\\\t\n\r]/.test(v) ? v.replace(/[\\\t\n\r]/g, (c) => COPY_ESCAPES[c]!) : v)
const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' }

/** The staging table's columns in `copyLine` order. */
export const STAGE_COLUMNS = ['ord', ...DIMENSIONS, ...COUNTERS] as const

/** One staged row as a line of COPY text (PostgreSQL's streaming path; PGlite stages `StageChunk`s). */
export function copyLine(ord: number, b: NormalisedBucket): string {
  const t = b.classes
  return (
    `${ord}\t${copyText(b.provider)}\t${copyText(b.accountId)}\t${iso(b.startMs)}\t${iso(b.endMs)}\t` +
    `${copyText(b.projectId)}\t${copyText(b.userId)}\t${copyText(b.apiKeyId)}\t${copyText(b.model)}\t${copyText(b.serviceTier)}\t` +
    `${b.batch === null ? '\\N' : b.batch ? 't' : 'f'}\t${t.requests === null ? '\\N' : t.requests}\t${t.inputTokens}\t${t.outputTokens}\t` +
    `${t.inText}\t${t.inAudio}\t${t.inImage}\t${t.cachedText}\t${t.cachedAudio}\t${t.cachedImage}\t${t.cacheWrite}\t` +
    `${t.outText}\t${t.outAudio}\t${t.outImage}\n`
  )
}

const castFor = (col: string): string =>
  col === 'start_time' || col === 'end_time' ? 'timestamptz[]' : col === 'batch' ? 'bool[]' : (COUNTERS as readonly string[]).includes(col) ? 'int8[]' : 'text[]'

export async function createStage(tx: Db): Promise<void> {
  // Summing 100k+ staged rows by a 10-column key spills a 4 MB work_mem sort to disk; this
  // transaction only may hash in memory instead.
  await tx.query(`set local work_mem = '64MB'`)
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

/** Sums staged rows that share a natural key into a table (for `findOverlap`); returns the number of distinct keys. */
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
const nullMask = (p = '') =>
  `((${p}project_id is null)::int + 2 * (${p}user_id is null)::int + 4 * (${p}api_key_id is null)::int + 8 * (${p}model is null)::int + 16 * (${p}batch is null)::int)`
const NULL_MASK = nullMask()

/**
 * Selects one row if any shape `iv` (provider, account_id, start_time, end_time, mask) breaks the
 * overlap rule against the tenant's stored buckets, with two index probes per shape instead of a
 * scan of the stored range. Stored buckets already obey the rule (every write passed this check),
 * so within one provider account they are disjoint intervals, each shared only by buckets of the
 * same shape. Hence it suffices to look at the first stored bucket starting in [start, end) — it
 * must be exactly this shape — and at the last one starting before `start` — it must end by
 * `start` (only for shapes that lead a run: see `BucketShape.leads`). Each probe is one ordered scan of the natural-key index (tenant, provider, account_id,
 * start_time, …), written once for a null account (`is null`) and once for `=`, because
 * `is not distinct from` cannot use the index and the planner then sorts the tenant's history.
 */
function storedNeighbours(tenantId: string, cols: string, leadsOnly: boolean): SQL {
  const branch = (account: string) => {
    const same = sql`s.tenant_id = ${tenantId} and s.provider = iv.provider and ${sql.raw(account)}`
    return sql`(select ${sql.raw(cols)} from usage_buckets s where ${same} and s.start_time >= iv.start_time and s.start_time < iv.end_time
        order by s.provider, s.account_id, s.start_time limit 1)
      union all
      (select ${sql.raw(cols)} from usage_buckets s where ${same} and ${sql.raw(leadsOnly ? 'iv.leads and ' : '')}s.start_time < iv.start_time
        order by s.provider desc, s.account_id desc, s.start_time desc limit 1)`
  }
  return sql`${branch('iv.account_id is null and s.account_id is null')} union all ${branch('s.account_id = iv.account_id')}`
}

/** `c` (a stored neighbour) breaks the rule against shape `iv`. */
const CLASH = `c.start_time < iv.end_time and iv.start_time < c.end_time and (c.start_time, c.end_time, c.mask) <> (iv.start_time, iv.end_time, iv.mask)`

export function conflictProbe(tenantId: string, shapes: SQL): SQL {
  // Only natural-key columns, so that the probes can be index-only scans.
  const cols = `s.start_time, s.end_time, ${nullMask('s.')} as mask`
  return sql`select 1 from (${shapes}) as iv(provider, account_id, start_time, end_time, mask, leads)
    cross join lateral (${storedNeighbours(tenantId, cols, true)}) c
    where ${sql.raw(CLASH)} limit 1`
}

/** Shapes computed in memory, as the row source `conflictProbe` expects. */
export function shapeRows(shapes: readonly BucketShape[]): SQL {
  return sql`select * from unnest(${sql.param(shapes.map((s) => s.provider))}::text[], ${sql.param(shapes.map((s) => s.accountId))}::text[],
    ${sql.param(shapes.map((s) => iso(s.startMs)))}::text[]::timestamptz[], ${sql.param(shapes.map((s) => iso(s.endMs)))}::text[]::timestamptz[],
    ${sql.param(shapes.map((s) => String(s.mask)))}::text[]::int4[], ${sql.param(shapes.map((s) => String(s.leads)))}::text[]::bool[])`
}

/** The first key of the two-key advisory locks of bucket writers (a namespace: "tl" in ASCII). */
const ACCOUNT_LOCK_CLASS = 0x746c

/**
 * Serialises the bucket writers of each provider account the rows touch, until the transaction ends:
 * the overlap rule is a check of stored buckets followed by a write, and two requests whose checks
 * both ran before either wrote would both be stored (a day and its 24 hours, counted twice). Under
 * the lock, a writer's statements see every bucket of its accounts committed before it. Writers of
 * different accounts share no bucket or rollup row (both keys hold the account), so same-account
 * serialisation also keeps concurrent re-posts from deadlocking on those rows. Keys are taken in
 * ascending order, so requests touching several accounts cannot deadlock on the locks themselves (a
 * hash collision only serialises two accounts more than needed). `rows` yields (provider,
 * account_id): the staging table or an unnest of in-memory rows.
 */
async function lockAccounts(tx: Db, tenantId: string, rows: SQL): Promise<void> {
  await tx.query(
    sql`select pg_advisory_xact_lock(${sql.raw(String(ACCOUNT_LOCK_CLASS))}, k) from (
      select distinct hashtext(jsonb_build_array(${tenantId}::text, provider, account_id)::text) as k from (${rows}) r order by k) keys`,
  )
}

/** `lockAccounts` for the provider accounts of in-memory rows (JSON bodies). */
export async function lockAccountsOf(tx: Db, tenantId: string, buckets: readonly Pick<NormalisedBucket, 'provider' | 'accountId'>[]): Promise<void> {
  const seen = new Map<string, [string, string | null]>()
  for (const b of buckets) seen.set(JSON.stringify([b.provider, b.accountId]), [b.provider, b.accountId])
  const pairs = [...seen.values()]
  await lockAccounts(
    tx,
    tenantId,
    sql`select * from unnest(${sql.param(pairs.map((p) => p[0]))}::text[], ${sql.param(pairs.map((p) => p[1]))}::text[]) as u(provider, account_id)`,
  )
}

/** `lockAccounts` for the provider accounts of the staged rows. */
export async function lockStagedAccounts(tx: Db, tenantId: string): Promise<void> {
  await lockAccounts(tx, tenantId, sql`select provider, account_id from bucket_stage`)
}

export interface ChunkResult extends UpsertCounts {
  /** The shapes broke the overlap rule against stored buckets; nothing was written. */
  conflict: boolean
}

/**
 * Upserts one in-memory chunk in a single statement, with no staging table. When `shapes` is given,
 * the same statement first probes them against stored buckets and writes nothing on a conflict.
 * Equal counters leave the stored row alone: the DO UPDATE's WHERE skips it (source and updated_at
 * untouched), so it is neither returned nor rewritten.
 */
export async function upsertChunk(db: Db, tenantId: string, source: string, chunk: StageChunk, shapes?: readonly BucketShape[]): Promise<ChunkResult> {
  const cols = [...DIMENSIONS, ...COUNTERS]
  const arrays = cols.map((col) => sql`${sql.param(chunk.cols[col])}::text[]::${sql.raw(castFor(col))}`)
  const conflict = shapes && shapes.length > 0 ? conflictProbe(tenantId, shapeRows(shapes)) : sql`select 1 where false`
  const rows = await db.query<ChunkResult>(
    sql`with conflict as (${conflict}),
    up as (
      insert into usage_buckets (tenant_id, ${raw(cols)}, source, updated_at)
      select ${tenantId}, ${raw(cols)}, ${source}, now()
      from unnest(${sql.join(arrays, sql`, `)}) as u(${raw(cols)})
      where not exists (select 1 from conflict)
      on conflict on constraint usage_buckets_natural_key do update set
        ${raw(COUNTERS.map((c) => `${c} = excluded.${c}`))}, source = excluded.source, updated_at = excluded.updated_at
      where (${raw(COUNTERS, 'usage_buckets.')}) is distinct from (${raw(COUNTERS, 'excluded.')})
      returning (xmax = 0) as inserted)
    select exists (select 1 from conflict) as conflict,
      count(*) filter (where inserted)::int8 as created, count(*) filter (where not inserted)::int8 as replaced from up`,
  )
  return rows[0]!
}

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

const SIDE_COLS = ['model', 'project_id', 'user_id', 'api_key_id', 'batch'] as const

/**
 * Names the first pair of buckets that breaks the overlap rule, if any: the merged incoming row with
 * the lowest index/line that clashes with a stored bucket, else the lowest one that clashes with a
 * later incoming row. Stored clashes are found with the probes of `conflictProbe` (one set of index
 * lookups per distinct incoming shape); incoming pairs are compared shape by shape, not row by row.
 */
export async function findOverlap(tx: Db, tenantId: string): Promise<[OverlapSide, OverlapSide] | undefined> {
  await tx.query(`create temp table bucket_shapes on commit drop as
    select provider, account_id, start_time, end_time, ${NULL_MASK} as mask, min(ord) as lo, max(ord) as hi
    from bucket_merge group by provider, account_id, start_time, end_time, ${NULL_MASK}`)
  const incoming = async (where: string, params: unknown[]) => {
    const rows = await tx.query<OverlapSide>(
      `select true as incoming, ord as ref, start_time, end_time, ${SIDE_COLS.join(', ')} from bucket_merge where ${where} order by ord limit 1`,
      params,
    )
    return rows[0]!
  }
  const cols = `s.id, s.start_time, s.end_time, ${SIDE_COLS.map((c) => `s.${c}`).join(', ')}, ${nullMask('s.')} as mask`
  const stored = await tx.query<OverlapSide & { lo: number }>(
    sql`select iv.lo, false as incoming, c.id as ref, c.start_time, c.end_time, ${sql.raw(SIDE_COLS.map((c) => `c.${c}`).join(', '))}
      from bucket_shapes iv cross join lateral (${storedNeighbours(tenantId, cols, false)}) c
      where ${sql.raw(CLASH)} order by iv.lo limit 1`,
  )
  if (stored[0]) {
    const { lo, ...other } = stored[0]
    return [await incoming('ord = $1', [lo]), other]
  }
  const pairs = await tx.query<{ lo: number; provider: string; account_id: string | null; start_time: Date; end_time: Date; mask: number }>(
    `select a.lo, b.provider, b.account_id, b.start_time, b.end_time, b.mask
     from bucket_shapes a join bucket_shapes b
       on b.provider = a.provider and b.account_id is not distinct from a.account_id
      and b.start_time < a.end_time and a.start_time < b.end_time
      and (b.start_time, b.end_time, b.mask) <> (a.start_time, a.end_time, a.mask)
     where b.hi > a.lo order by a.lo limit 1`,
  )
  const pair = pairs[0]
  if (!pair) return undefined
  const other = await incoming(
    `provider = $1 and account_id is not distinct from $2 and start_time = $3 and end_time = $4 and ${NULL_MASK} = $5 and ord > $6`,
    [pair.provider, pair.account_id, pair.start_time.toISOString(), pair.end_time.toISOString(), pair.mask, pair.lo],
  )
  return [await incoming('ord = $1', [pair.lo]), other]
}

/**
 * The overlap rule for staged rows, as a yes/no: incoming shapes against each other (sorted, with
 * the running latest end) and against stored buckets (`conflictProbe`). Only on a yes is the
 * costlier `findOverlap` run, to name the pair.
 */
export async function stagedOverlap(tx: Db, tenantId: string): Promise<boolean> {
  const rows = await tx.query<{ inner: boolean; stored: boolean }>(
    sql`with shapes as (
      select provider, account_id, start_time, end_time, mask, max(end_time) over (partition by provider, account_id
               order by start_time, end_time, mask rows between unbounded preceding and 1 preceding) as prev_end
      from (select distinct provider, account_id, start_time, end_time, ${sql.raw(NULL_MASK)} as mask from bucket_stage) d)
    select exists (select 1 from shapes where prev_end > start_time) as inner,
      exists (${conflictProbe(tenantId, sql`select provider, account_id, start_time, end_time, mask, prev_end is distinct from start_time from shapes`)}) as stored`,
  )
  return rows[0]!.inner || rows[0]!.stored
}

export interface MergeCounts extends UpsertCounts {
  distinct: number
  /** Keys (first ord) whose sums exceed 2^53 − 1; when any, nothing was written. */
  oversized: number[]
}

/**
 * Sums staged rows by natural key and upserts the sums, in one statement: the sums are materialised
 * once and feed the 2^53 − 1 check, the count and the upsert (equal counters are left alone, as in
 * `upsertChunk`).
 */
export async function mergeAndUpsert(tx: Db, tenantId: string, source: string): Promise<MergeCounts> {
  const rows = await tx.query<{ distinct: number; oversized: string | null; created: number; replaced: number }>(
    sql`with m as materialized (
      select min(ord) as ord, ${raw(DIMENSIONS)}, ${raw(COUNTERS.map((c) => `sum(${c}) as ${c}`))}
      from bucket_stage group by ${raw(DIMENSIONS)}),
    bad as (select ord from m where greatest(${raw(COUNTERS.map((c) => `coalesce(${c}, 0)`))}) > ${sql.raw(MAX_COUNTER)} order by ord limit 1000),
    up as (
      insert into usage_buckets (tenant_id, ${raw(DIMENSIONS)}, ${raw(COUNTERS)}, source, updated_at)
      select ${tenantId}, ${raw(DIMENSIONS)}, ${raw(COUNTERS.map((c) => `${c}::int8`))}, ${source}, now()
      from m where not exists (select 1 from bad)
      on conflict on constraint usage_buckets_natural_key do update set
        ${raw(COUNTERS.map((c) => `${c} = excluded.${c}`))}, source = excluded.source, updated_at = excluded.updated_at
      where (${raw(COUNTERS, 'usage_buckets.')}) is distinct from (${raw(COUNTERS, 'excluded.')})
      returning (xmax = 0) as inserted)
    select (select count(*) from m)::int8 as distinct, (select string_agg(ord::text, ',' order by ord) from bad) as oversized,
      count(*) filter (where inserted)::int8 as created, count(*) filter (where not inserted)::int8 as replaced from up`,
  )
  const r = rows[0]!
  return { distinct: r.distinct, created: r.created, replaced: r.replaced, oversized: r.oversized ? r.oversized.split(',').map(Number) : [] }
}

export interface UpsertCounts {
  created: number
  replaced: number
}

export interface DeleteRange {
  tenantId: string
  start: Date
  end: Date
  source?: string | undefined
  accountId?: string | undefined
}

/**
 * Removes the tenant's stored buckets inside [start, end) so another granularity can be imported,
 * under the locks of the accounts it deletes from (a concurrent import of those accounts waits, so the
 * two cannot deadlock on the rows they share).
 */
export async function deleteBuckets(db: Db, r: DeleteRange): Promise<number> {
  const where = sql`tenant_id = ${r.tenantId}
    and start_time >= ${r.start.toISOString()}::timestamptz and end_time <= ${r.end.toISOString()}::timestamptz
    ${r.source !== undefined ? sql`and source = ${r.source}` : sql``}
    ${r.accountId !== undefined ? sql`and account_id = ${r.accountId}` : sql``}`
  return db.transaction(async (tx) => {
    await lockAccounts(tx, r.tenantId, sql`select provider, account_id from usage_buckets where ${where}`)
    const rows = await tx.query<{ n: number }>(sql`with d as (delete from usage_buckets where ${where} returning 1) select count(*)::int8 as n from d`)
    return rows[0]!.n
  })
}
