import { sql, type SQL } from 'drizzle-orm'
import type { NormalisedBucket } from '../../ingest/bucket.js'
import type { BucketShape } from '../../ingest/intervals.js'
import { arrayParam } from '../array-literal.js'
import type { Db } from '../client.js'
import { isUniqueViolation } from '../errors.js'
import type { TokenClasses } from '../../ingest/token-classes.js'
import { TOKEN_COUNTERS } from '../token-columns.js'

/**
 * Bucket ingestion in set-based SQL. In-memory rows (JSON) go straight to `upsertChunk`. Streamed
 * rows (CSV) are staged in chunks into a temporary table, checked for overlaps, then summed by
 * natural key and upserted in one statement. Staging runs inside the caller's transaction; the temp
 * tables drop at commit/rollback.
 */

export const STAGE_CHUNK = 5000
const MAX_COUNTER = '9007199254740991'

const DIMENSIONS = [
  'provider',
  'account_id',
  'start_time',
  'end_time',
  'project_id',
  'user_id',
  'api_key_id',
  'model',
  'service_tier',
  'batch',
  'usage_type',
  'context_tier',
  'inference_geo',
] as const
/** Per staged row: the dimensions it reported, and its shape when already known (JSON rows). */
const SHAPE_COLUMNS = ['present', 'shape'] as const
const COUNTERS = ['num_model_requests', ...TOKEN_COUNTERS.map((c) => c.column)] as const

const raw = (names: readonly string[], prefix = '') => sql.raw(names.map((n) => prefix + n).join(', '))

/** A chunk of rows as one array of text per column, each sent as an array literal and cast in SQL. */
export class StageChunk {
  readonly ord: string[] = []
  readonly cols: Record<(typeof DIMENSIONS)[number] | (typeof SHAPE_COLUMNS)[number] | (typeof COUNTERS)[number], (string | null)[]> =
    Object.fromEntries([...DIMENSIONS, ...SHAPE_COLUMNS, ...COUNTERS].map((c) => [c, []])) as never

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
    c.usage_type.push(b.usageType)
    c.context_tier.push(b.contextTier)
    c.inference_geo.push(b.inferenceGeo)
    c.present.push(String(b.present))
    c.shape.push(b.shape ?? null)
    c.num_model_requests.push(t.requests === null ? null : String(t.requests))
    for (const { key, column } of TOKEN_COUNTERS) c[column].push(String(t[key]))
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
export const STAGE_COLUMNS = ['ord', ...DIMENSIONS, ...SHAPE_COLUMNS, ...COUNTERS] as const

/** The token counters of a row as COPY text, in TOKEN_COUNTERS order, each after a tab; ends the line. */
function counterText(t: TokenClasses): string {
  let line = ''
  for (const { key } of TOKEN_COUNTERS) line += `\t${t[key]}`
  return `${line}\n`
}

/** One staged row as a line of COPY text (PostgreSQL's streaming path; PGlite stages `StageChunk`s). */
export function copyLine(ord: number, b: NormalisedBucket): string {
  const t = b.classes
  return (
    `${ord}\t${copyText(b.provider)}\t${copyText(b.accountId)}\t${iso(b.startMs)}\t${iso(b.endMs)}\t` +
    `${copyText(b.projectId)}\t${copyText(b.userId)}\t${copyText(b.apiKeyId)}\t${copyText(b.model)}\t${copyText(b.serviceTier)}\t` +
    `${b.batch === null ? '\\N' : b.batch ? 't' : 'f'}\t${b.usageType}\t${copyText(b.contextTier)}\t${copyText(b.inferenceGeo)}\t` +
    `${b.present}\t${copyText(b.shape ?? null)}\t${t.requests === null ? '\\N' : t.requests}` +
    counterText(t)
  )
}

const castFor = (col: string): string =>
  col === 'start_time' || col === 'end_time'
    ? 'timestamptz[]'
    : col === 'batch'
      ? 'bool[]'
      : col === 'present'
        ? 'int4[]'
        : (COUNTERS as readonly string[]).includes(col)
            ? 'int8[]'
            : 'text[]'

/** One column of a chunk as a parameter of the column's array type. */
const columnArray = (chunk: StageChunk, col: keyof StageChunk['cols']): SQL => arrayParam(chunk.cols[col], castFor(col))

export async function createStage(tx: Db): Promise<void> {
  // Summing 100k+ staged rows by a 10-column key spills a 4 MB work_mem sort to disk; this
  // transaction only may hash in memory instead.
  await tx.query(`set local work_mem = '64MB'`)
  await tx.query(`create temp table bucket_stage (
    ord int8 not null, provider text not null, account_id text, start_time timestamptz not null, end_time timestamptz not null,
    project_id text, user_id text, api_key_id text, model text, service_tier text not null, batch bool,
    usage_type text not null, context_tier text, inference_geo text, present int4 not null, shape text,
    ${COUNTERS.map((c) => `${c} int8`).join(', ')}) on commit drop`)
}

export async function stageChunk(tx: Db, chunk: StageChunk): Promise<void> {
  if (chunk.length === 0) return
  const arrays: SQL[] = [arrayParam(chunk.ord, 'int8[]')]
  for (const col of [...DIMENSIONS, ...SHAPE_COLUMNS, ...COUNTERS]) arrays.push(columnArray(chunk, col))
  await tx.query(sql`insert into bucket_stage (ord, ${raw(DIMENSIONS)}, ${raw(SHAPE_COLUMNS)}, ${raw(COUNTERS)}) select * from unnest(${sql.join(arrays, sql`, `)})`)
}

/**
 * The staged rows with their report shape: given for JSON rows (computed in memory), computed here
 * for CSV rows — the dimensions reported by any row of the same (provider, account, usage type,
 * start, end) — as `row_shape`.
 */
const SHAPED_STAGE = `(select *, coalesce(shape, (bit_or(present) over (partition by provider, account_id, usage_type, start_time, end_time))::text) as row_shape
  from bucket_stage) st`
/** `SHAPED_STAGE` for the staged rows starting in [from, to] (a shape's rows share their start time). */
const shapedStageBetween = (from: string, to: string) =>
  sql`(select *, coalesce(shape, (bit_or(present) over (partition by provider, account_id, usage_type, start_time, end_time))::text) as row_shape
  from bucket_stage where start_time between ${from}::timestamptz and ${to}::timestamptz) st`

/**
 * The distinct (provider, account, usage type, start, end, row_shape) of the stage, as `SHAPED_STAGE`
 * would give them — but aggregated before the window, so a large stage is hashed once on its key
 * columns instead of sorted whole.
 */
const STAGE_SHAPES = `(select distinct provider, account_id, usage_type, start_time, end_time,
    coalesce(shape, (bit_or(present) over (partition by provider, account_id, usage_type, start_time, end_time))::text) as row_shape
  from (select provider, account_id, usage_type, start_time, end_time, shape, bit_or(present) as present
    from bucket_stage group by provider, account_id, usage_type, start_time, end_time, shape) g) d`

/** Sums staged rows that share a natural key into a table (for `findOverlap`); returns the number of distinct keys. */
export async function mergeStage(tx: Db): Promise<number> {
  await tx.query(`create temp table bucket_merge on commit drop as
    select row_number() over (order by min(ord)) as rn, min(ord) as ord, ${DIMENSIONS.join(', ')}, min(row_shape) as shape,
      ${COUNTERS.map((c) => `sum(${c}) as ${c}`).join(', ')}
    from ${SHAPED_STAGE} group by ${DIMENSIONS.join(', ')}`)
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

/**
 * Where the report-shape rule looks: token buckets by usage type, resources by resource name, billed
 * costs by provider account alone (one kind).
 */
export interface ShapeTarget {
  table: 'usage_buckets' | 'usage_resources' | 'billed_costs'
  kind?: 'usage_type' | 'resource'
}
/**
 * The tail of an upsert into a partitioned table that tells inserted rows from replaced ones. PostgreSQL
 * 15 cannot return xmax from a partitioned table ("cannot retrieve a system column in this context"),
 * so a replacement stores updated_at = now() + 1 µs where an insert stores now(): deterministic within
 * the transaction, and a microsecond nothing else reads.
 */
export const UPSERT_STAMP = {
  set: sql.raw(`updated_at = excluded.updated_at + interval '1 microsecond'`),
  returning: sql.raw('returning updated_at = now() as inserted'),
}

const BUCKET_TARGET: ShapeTarget = { table: 'usage_buckets', kind: 'usage_type' }
export const RESOURCE_TARGET: ShapeTarget = { table: 'usage_resources', kind: 'resource' }
export const BILLED_TARGET: ShapeTarget = { table: 'billed_costs' }

/**
 * Selects one row if any shape `iv` (provider, account_id, kind, start_time, end_time, shape, leads)
 * breaks the report-shape rule against the tenant's stored rows, with two index probes per shape
 * instead of a scan of the stored range. Stored rows already obey the rule (every write passed this
 * check), so within one provider account and kind they are disjoint intervals, each shared only by
 * rows of the same shape. Hence it suffices to look at the first stored row starting in [start, end)
 * — it must be exactly this shape — and at the last one starting before `start` — it must end by
 * `start` (only for shapes that lead a run: see `BucketShape.leads`). Each probe is one ordered scan
 * of the overlap index (tenant, provider, account_id, kind, start_time; billed_costs has no kind),
 * written once for a null account (`is null`) and once for `=`, because `is not distinct from` cannot
 * use the index and the planner then sorts the tenant's history.
 */
function storedNeighbours(tenantId: string, cols: string, leadsOnly: boolean, target: ShapeTarget): SQL {
  const table = sql.raw(target.table)
  const kind = sql.raw(target.kind ? ` and s.${target.kind} = iv.kind` : '')
  const order = (dir: string) => sql.raw(['s.provider', 's.account_id', ...(target.kind ? [`s.${target.kind}`] : []), 's.start_time'].map((c) => `${c}${dir}`).join(', '))
  const branch = (account: string) => {
    const same = sql`s.tenant_id = ${tenantId} and s.provider = iv.provider and ${sql.raw(account)}${kind}`
    return sql`(select ${sql.raw(cols)} from ${table} s where ${same} and s.start_time >= iv.start_time and s.start_time < iv.end_time
        order by ${order('')} limit 1)
      union all
      (select ${sql.raw(cols)} from ${table} s where ${same} and ${sql.raw(leadsOnly ? 'iv.leads and ' : '')}s.start_time < iv.start_time
        order by ${order(' desc')} limit 1)`
  }
  return sql`${branch('iv.account_id is null and s.account_id is null')} union all ${branch('s.account_id = iv.account_id')}`
}

/** `c` (a stored neighbour) breaks the rule against shape `iv`. */
const CLASH = `c.start_time < iv.end_time and iv.start_time < c.end_time and (c.start_time, c.end_time, c.shape) <> (iv.start_time, iv.end_time, iv.shape)`

export function conflictProbe(tenantId: string, shapes: SQL, target: ShapeTarget = BUCKET_TARGET): SQL {
  const cols = `s.start_time, s.end_time, s.shape`
  return sql`select 1 from (${shapes}) as iv(provider, account_id, kind, start_time, end_time, shape, leads)
    cross join lateral (${storedNeighbours(tenantId, cols, true, target)}) c
    where ${sql.raw(CLASH)} limit 1`
}

/** Shapes computed in memory, as the row source `conflictProbe` expects. */
export function shapeRows(shapes: readonly BucketShape[]): SQL {
  return sql`select * from unnest(${arrayParam(shapes.map((s) => s.provider), 'text[]')}, ${arrayParam(shapes.map((s) => s.accountId), 'text[]')},
    ${arrayParam(shapes.map((s) => s.kind), 'text[]')},
    ${arrayParam(shapes.map((s) => iso(s.startMs)), 'timestamptz[]')}, ${arrayParam(shapes.map((s) => iso(s.endMs)), 'timestamptz[]')},
    ${arrayParam(shapes.map((s) => s.shape), 'text[]')}, ${arrayParam(shapes.map((s) => String(s.leads)), 'bool[]')})`
}

/**
 * The first shape (1-based `shape_no`) that clashes with a stored row, and that row (to name it in a
 * 409): of the two neighbours that can clash, the earlier-starting one — the stored row that overlaps
 * the shape first.
 */
export async function storedClash<T>(db: Db, tenantId: string, shapes: readonly BucketShape[], target: ShapeTarget, cols: string): Promise<(T & { shape_no: number }) | undefined> {
  const rows = await db.query<T & { shape_no: number }>(
    sql`select iv.n as shape_no, c.* from (select *, row_number() over () as n from (${shapeRows(shapes)}) x) as iv(provider, account_id, kind, start_time, end_time, shape, leads, n)
      cross join lateral (${storedNeighbours(tenantId, `${cols}, s.start_time, s.end_time, s.shape`, false, target)}) c
      where ${sql.raw(CLASH)} order by iv.n, c.start_time limit 1`,
  )
  return rows[0]
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
 *
 * `shared`: the locks are taken SHARED — `true`, or (an SQL row source of shapes, as `conflictProbe`
 * reads them) when every one of those shapes is already stored exactly: same provider, account,
 * kind, start, end and shape; otherwise EXCLUSIVE, as DELETE and every other writer takes them.
 * Writers that only add rows of shapes already stored cannot break the rule, among themselves or
 * against stored rows: each of their rows has the start, end and shape of a stored row, and the
 * stored rows obey the rule. So such writers may run side by side. That must hold of what is stored
 * once the lock is held: a shared writer confirms it in a statement after this one (`unstoredShapes`)
 * and, when it does not hold, writes nothing and starts again exclusively. Returns whether the locks
 * were taken shared.
 */
export async function lockAccounts(tx: Db, tenantId: string, rows: SQL, shared: boolean | SQL = false): Promise<boolean> {
  const lock = (fn: string) => sql.raw(`${fn}(${String(ACCOUNT_LOCK_CLASS)}, k)::text`)
  const mode = typeof shared === 'boolean' ? sql.raw(String(shared)) : sql`not exists (${unstoredShapes(tenantId, shared)})`
  const taken = await tx.query<{ shared: boolean | null }>(
    sql`with mode as (select ${mode} as shared)
    select bool_and(shared) as shared from (
      select (select shared from mode) as shared,
        case when (select shared from mode) then ${lock('pg_advisory_xact_lock_shared')} else ${lock('pg_advisory_xact_lock')} end as locked
      from (select distinct hashtext(jsonb_build_array(${tenantId}::text, provider, account_id)::text) as k
        from (select distinct provider, account_id from (${rows}) r0) r order by k) keys) taken`,
  )
  return taken[0]?.shared === true
}

/**
 * Selects one row if any shape (`conflictProbe`'s row source: provider, account_id, kind, start_time,
 * end_time, shape, …) has no stored bucket with exactly its provider, account, kind, start, end and
 * shape: one index probe per shape, written for a null account and for `=` as in `storedNeighbours`.
 * Inside a CASE, so that the planner cannot anti-join the tenant's null-account rows; and each probe
 * ends in `offset 0`, which keeps PostgreSQL from planning it as a hashed subplan (its alternative for
 * an EXISTS of equalities): that one read and hashed every null-account bucket of the tenant on every
 * call — 100 ms per 1,000-row JSON request at 100,000 stored buckets, growing with the table.
 */
export function unstoredShapes(tenantId: string, shapes: SQL): SQL {
  const stored = (account: string) =>
    sql`select 1 from usage_buckets s where s.tenant_id = ${tenantId} and s.provider = iv.provider and ${sql.raw(account)}
      and s.usage_type = iv.kind and s.start_time = iv.start_time and s.end_time = iv.end_time and s.shape = iv.shape offset 0`
  return sql`select 1 from (${shapes}) as iv(provider, account_id, kind, start_time, end_time, shape)
    where case when iv.account_id is null then not exists (${stored('s.account_id is null')}) else not exists (${stored('s.account_id = iv.account_id')}) end
    limit 1`
}

/**
 * `lockAccounts` for the provider accounts of in-memory rows (JSON bodies); `shared`: take them shared
 * (the caller then confirms its shapes are stored: `upsertChunk`'s `requireStored`).
 */
export async function lockAccountsOf(
  tx: Db,
  tenantId: string,
  buckets: readonly Pick<NormalisedBucket, 'provider' | 'accountId'>[],
  shared = false,
): Promise<void> {
  const seen = new Map<string, [string, string | null]>()
  for (const b of buckets) seen.set(JSON.stringify([b.provider, b.accountId]), [b.provider, b.accountId])
  const pairs = [...seen.values()]
  await lockAccounts(
    tx,
    tenantId,
    sql`select * from unnest(${sql.param(pairs.map((p) => p[0]))}::text[], ${sql.param(pairs.map((p) => p[1]))}::text[]) as u(provider, account_id)`,
    shared,
  )
}

/**
 * `lockAccounts` for the provider accounts of the staged rows; with `sharedIfStored`, shared when
 * every staged shape is stored. Returns whether the locks were taken shared.
 */
export async function lockStagedAccounts(tx: Db, tenantId: string, sharedIfStored = false): Promise<boolean> {
  return lockAccounts(
    tx,
    tenantId,
    sql`select provider, account_id from bucket_stage`,
    sharedIfStored && sql`select provider, account_id, usage_type, start_time, end_time, row_shape from ${sql.raw(STAGE_SHAPES)}`,
  )
}

/**
 * The order in which every upsert statement writes (and so locks) its bucket rows. Writers holding
 * their accounts' locks shared may write the same rows at once (re-posts of overlapping pages): in one
 * order, and each in ONE statement (`mergesInOneStatement`, a single chunk) whose rollup triggers also
 * write in key order, they wait for each other but cannot deadlock.
 */
const ROW_LOCK_ORDER = raw(DIMENSIONS)

export interface ChunkResult extends UpsertCounts {
  /** The shapes broke the overlap rule against stored buckets; nothing was written. */
  conflict: boolean
  /** With `requireStored`: a shape is not stored exactly (see `lockAccounts`); nothing was written. */
  unstored?: boolean
}

/**
 * Upserts one in-memory chunk in a single statement, with no staging table. When `shapes` is given,
 * the same statement first probes them against stored buckets and writes nothing on a conflict — nor,
 * with `requireStored` (a writer holding its account locks shared), when one of them is not stored.
 * Equal counters leave the stored row alone: the DO UPDATE's WHERE skips it (source and updated_at
 * untouched), so it is neither returned nor rewritten.
 */
export async function upsertChunk(
  db: Db,
  tenantId: string,
  source: string,
  chunk: StageChunk,
  shapes?: readonly BucketShape[],
  requireStored = false,
): Promise<ChunkResult> {
  const cols = [...DIMENSIONS, ...COUNTERS, 'shape'] as const
  const arrays = cols.map((col) => columnArray(chunk, col))
  const probed = shapes && shapes.length > 0
  // Shapes that are all stored exactly cannot clash with stored rows (their stored twins do not): a
  // shared writer needs only the one probe per shape.
  const none = sql`select 1 where false`
  const conflict = probed && !requireStored ? conflictProbe(tenantId, shapeRows(shapes)) : none
  const unstored = probed && requireStored ? unstoredShapes(tenantId, shapeRows(shapes)) : none
  const rows = await db.query<ChunkResult>(
    sql`with conflict as (${conflict}), unstored as (${unstored}),
    up as (
      insert into usage_buckets (tenant_id, ${raw(cols)}, source, updated_at)
      select ${tenantId}, ${raw(cols)}, ${source}, now()
      from unnest(${sql.join(arrays, sql`, `)}) as u(${raw(cols)})
      where not exists (select 1 from conflict) and not exists (select 1 from unstored)
      order by ${ROW_LOCK_ORDER}
      on conflict (tenant_id, start_time, key_hash) do update set
        ${raw(COUNTERS.map((c) => `${c} = excluded.${c}`))}, source = excluded.source, ${UPSERT_STAMP.set}
      where (${raw(COUNTERS, 'usage_buckets.')}) is distinct from (${raw(COUNTERS, 'excluded.')})
      ${UPSERT_STAMP.returning})
    select exists (select 1 from conflict) as conflict, exists (select 1 from unstored) as unstored,
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
  usage_type: string
  model: string | null
  project_id: string | null
  user_id: string | null
  api_key_id: string | null
  batch: boolean | null
  shape: string
}

const SIDE_COLS = ['usage_type', 'model', 'project_id', 'user_id', 'api_key_id', 'batch', 'shape'] as const

/**
 * Names the first pair of buckets that breaks the overlap rule, if any: the merged incoming row with
 * the lowest index/line that clashes with a stored bucket, else the lowest one that clashes with a
 * later incoming row. Stored clashes are found with the probes of `conflictProbe` (one set of index
 * lookups per distinct incoming shape); incoming pairs are compared shape by shape, not row by row.
 */
export async function findOverlap(tx: Db, tenantId: string): Promise<[OverlapSide, OverlapSide] | undefined> {
  await tx.query(`create temp table bucket_shapes on commit drop as
    select provider, account_id, usage_type as kind, start_time, end_time, shape, min(ord) as lo, max(ord) as hi
    from bucket_merge group by provider, account_id, usage_type, start_time, end_time, shape`)
  const incoming = async (where: string, params: unknown[]) => {
    const rows = await tx.query<OverlapSide>(
      `select true as incoming, ord as ref, start_time, end_time, ${SIDE_COLS.join(', ')} from bucket_merge where ${where} order by ord limit 1`,
      params,
    )
    return rows[0]!
  }
  const cols = `s.id, s.start_time, s.end_time, ${SIDE_COLS.map((c) => `s.${c}`).join(', ')}`
  const stored = await tx.query<OverlapSide & { lo: number }>(
    sql`select iv.lo, false as incoming, c.id as ref, c.start_time, c.end_time, ${sql.raw(SIDE_COLS.map((c) => `c.${c}`).join(', '))}
      from bucket_shapes iv cross join lateral (${storedNeighbours(tenantId, cols, false, BUCKET_TARGET)}) c
      where ${sql.raw(CLASH)} order by iv.lo limit 1`,
  )
  if (stored[0]) {
    const { lo, ...other } = stored[0]
    return [await incoming('ord = $1', [lo]), other]
  }
  const pairs = await tx.query<{ lo: number; provider: string; account_id: string | null; kind: string; start_time: Date; end_time: Date; shape: string }>(
    `select a.lo, b.provider, b.account_id, b.kind, b.start_time, b.end_time, b.shape
     from bucket_shapes a join bucket_shapes b
       on b.provider = a.provider and b.account_id is not distinct from a.account_id and b.kind = a.kind
      and b.start_time < a.end_time and a.start_time < b.end_time
      and (b.start_time, b.end_time, b.shape) <> (a.start_time, a.end_time, a.shape)
     where b.hi > a.lo order by a.lo limit 1`,
  )
  const pair = pairs[0]
  if (!pair) return undefined
  const other = await incoming(
    `provider = $1 and account_id is not distinct from $2 and usage_type = $3 and start_time = $4 and end_time = $5 and shape = $6 and ord > $7`,
    [pair.provider, pair.account_id, pair.kind, pair.start_time.toISOString(), pair.end_time.toISOString(), pair.shape, pair.lo],
  )
  return [await incoming('ord = $1', [pair.lo]), other]
}

/**
 * The overlap rule for staged rows, as a yes/no: incoming shapes against each other (sorted, with
 * the running latest end) and against stored buckets (`conflictProbe`). Only on a yes is the
 * costlier `findOverlap` run, to name the pair. With `requireStored` (a writer holding its account
 * locks shared) it asks only whether a staged shape is not stored exactly (`unstored`, see
 * `lockAccounts`): shapes that all are cannot clash with each other or with stored rows, since the
 * stored rows they equal do not.
 */
export async function stagedOverlap(tx: Db, tenantId: string, requireStored = false): Promise<{ overlap: boolean; unstored: boolean }> {
  if (requireStored) {
    const rows = await tx.query<{ unstored: boolean }>(
      sql`select exists (${unstoredShapes(tenantId, sql`select provider, account_id, usage_type, start_time, end_time, row_shape from ${sql.raw(STAGE_SHAPES)}`)}) as unstored`,
    )
    return { overlap: false, unstored: rows[0]!.unstored }
  }
  const rows = await tx.query<{ inner: boolean; stored: boolean }>(
    sql`with shapes as (
      select provider, account_id, usage_type, start_time, end_time, row_shape, max(end_time) over (partition by provider, account_id, usage_type
               order by start_time, end_time, row_shape rows between unbounded preceding and 1 preceding) as prev_end
      from ${sql.raw(STAGE_SHAPES)})
    select exists (select 1 from shapes where prev_end > start_time) as inner,
      exists (${conflictProbe(tenantId, sql`select provider, account_id, usage_type, start_time, end_time, row_shape, prev_end is distinct from start_time from shapes`)}) as stored`,
  )
  return { overlap: rows[0]!.inner || rows[0]!.stored, unstored: false }
}

export interface MergeCounts extends UpsertCounts {
  distinct: number
  /** Keys (first ord) whose sums exceed 2^53 − 1; when any, nothing was written. */
  oversized: number[]
}

/**
 * Staged rows merged per statement. A statement's rows pass through both rollup triggers' transition
 * tables and aggregates: at a million rows those spill to disk (hundreds of MB of temp files) and the
 * merge ran at a few thousand rows/s; slices of this size stay in memory (work_mem, `createStage`).
 */
const MERGE_SLICE_ROWS = 100_000

/** Whether `mergeAndUpsert` writes this many staged rows in one statement. */
export const mergesInOneStatement = (staged: number): boolean => staged <= MERGE_SLICE_ROWS

/**
 * Sums staged rows by natural key and upserts the sums. Up to MERGE_SLICE_ROWS staged rows in one
 * statement (`mergeSlice`); a larger stage is merged in slices of consecutive start times — every row
 * of a natural key, and of a report shape, has the same start time, so each slice sums and shapes
 * exactly what one statement would. One start time with more rows than a slice is a slice of its own.
 * Runs in the caller's transaction: a later slice's failure rolls back the earlier ones.
 * `exclusive`: the caller holds its accounts' locks exclusively (`lockAccounts`), so a slice may be
 * written as a plain insert when it is new (`mergeSlice`).
 */
export async function mergeAndUpsert(
  tx: Db,
  tenantId: string,
  source: string,
  staged: number,
  { sliceRows = MERGE_SLICE_ROWS, exclusive = false }: { sliceRows?: number; exclusive?: boolean } = {},
): Promise<MergeCounts> {
  if (staged <= sliceRows) return mergeSlice(tx, tenantId, source, exclusive)
  await tx.query('create index bucket_stage_start on bucket_stage (start_time)')
  await tx.query('analyze bucket_stage')
  const times = await tx.query<{ t: string; n: number }>('select start_time::text as t, count(*)::int8 as n from bucket_stage group by start_time order by start_time')
  const slices: { from: string; to: string; rows: number }[] = []
  for (const { t, n } of times) {
    const last = slices.at(-1)
    if (last && last.rows + n <= sliceRows) Object.assign(last, { to: t, rows: last.rows + n })
    else slices.push({ from: t, to: t, rows: n })
  }
  const total: MergeCounts = { distinct: 0, created: 0, replaced: 0, oversized: [] }
  for (const { from, to } of slices) {
    const part = await mergeSlice(tx, tenantId, source, exclusive, [from, to])
    // Nothing of this slice was written; name the oversized keys of the whole stage, as one statement would.
    if (part.oversized.length > 0) return { ...total, oversized: await oversizedStaged(tx) }
    total.distinct += part.distinct
    total.created += part.created
    total.replaced += part.replaced
  }
  return total
}

/** The first 1,000 keys (first ord) of the whole stage whose sums exceed 2^53 − 1. */
async function oversizedStaged(tx: Db): Promise<number[]> {
  const rows = await tx.query<{ ord: number }>(
    `select min(ord) as ord from bucket_stage group by ${DIMENSIONS.join(', ')}
     having greatest(${COUNTERS.map((c) => `coalesce(sum(${c}), 0)`).join(', ')}) > ${MAX_COUNTER} order by 1 limit 1000`,
  )
  return rows.map((r) => Number(r.ord))
}

/**
 * Whether the tenant stores no bucket starting in the stage's range, or in [from, to]: one probe of
 * the primary key (tenant_id, start_time, id).
 */
async function freshRange(tx: Db, tenantId: string, range?: [from: string, to: string]): Promise<boolean> {
  const bounds = range
    ? sql`select ${range[0]}::timestamptz as lo, ${range[1]}::timestamptz as hi`
    : sql`select min(start_time) as lo, max(start_time) as hi from bucket_stage`
  const rows = await tx.query<{ fresh: boolean }>(
    sql`select not exists (select 1 from usage_buckets s, (${bounds}) r where s.tenant_id = ${tenantId} and s.start_time >= r.lo and s.start_time <= r.hi) as fresh`,
  )
  return rows[0]!.fresh
}

/**
 * One merge statement over the stage, or over the staged rows starting in [from, to]: the sums are
 * materialised once and feed the 2^53 − 1 check, the count and the upsert (equal counters are left
 * alone, as in `upsertChunk`).
 *
 * `exclusive` and no stored bucket of the tenant starts in the slice's range (`freshRange`): a plain
 * INSERT instead of the upsert. Every stored row a merged row could conflict with has its start
 * time (the natural key holds it), and under the accounts' exclusive locks no other writer can store
 * one of these keys meanwhile (a writer of another account cannot store any). The upsert's
 * speculative insertion probes the natural key once more per row before inserting: about a tenth of
 * a first import's write time (docs/performance.md "Ingest, round 7"). A writer that bypasses the
 * locks (psql) could still store a key first: the insert then fails on the unique key, in a
 * savepoint, and the slice runs again as an upsert.
 */
async function mergeSlice(tx: Db, tenantId: string, source: string, exclusive: boolean, range?: [from: string, to: string]): Promise<MergeCounts> {
  if (exclusive && (await freshRange(tx, tenantId, range))) {
    const inserted = await tx
      .transaction((sp) => mergeStatement(sp, tenantId, source, false, range))
      .catch((err: unknown) => (isUniqueViolation(err) ? undefined : Promise.reject(err)))
    if (inserted) return inserted
  }
  return mergeStatement(tx, tenantId, source, true, range)
}

async function mergeStatement(tx: Db, tenantId: string, source: string, upsert: boolean, range?: [from: string, to: string]): Promise<MergeCounts> {
  const stage = range ? shapedStageBetween(...range) : sql.raw(SHAPED_STAGE)
  const onConflict = upsert
    ? sql`on conflict (tenant_id, start_time, key_hash) do update set
        ${raw(COUNTERS.map((c) => `${c} = excluded.${c}`))}, source = excluded.source, ${UPSERT_STAMP.set}
      where (${raw(COUNTERS, 'usage_buckets.')}) is distinct from (${raw(COUNTERS, 'excluded.')})`
    : sql``
  const rows = await tx.query<{ distinct: number; oversized: string | null; created: number; replaced: number }>(
    sql`with m as materialized (
      select min(ord) as ord, ${raw(DIMENSIONS)}, min(row_shape) as shape, ${raw(COUNTERS.map((c) => `sum(${c}) as ${c}`))}
      from ${stage} group by ${raw(DIMENSIONS)}),
    bad as (select ord from m where greatest(${raw(COUNTERS.map((c) => `coalesce(${c}, 0)`))}) > ${sql.raw(MAX_COUNTER)} order by ord limit 1000),
    up as (
      insert into usage_buckets (tenant_id, ${raw(DIMENSIONS)}, ${raw(COUNTERS)}, shape, source, updated_at)
      select ${tenantId}, ${raw(DIMENSIONS)}, ${raw(COUNTERS.map((c) => `${c}::int8`))}, shape, ${source}, now()
      from m where not exists (select 1 from bad)
      order by ${ROW_LOCK_ORDER}
      ${onConflict}
      ${UPSERT_STAMP.returning})
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
  /** Only token buckets of this usage type (resources are then kept). */
  usageType?: string | undefined
  /** Only resources of this name (token buckets are then kept). */
  resource?: string | undefined
}

/**
 * Removes the tenant's stored buckets and resources inside [start, end) so another granularity can
 * be imported, under the locks of the accounts it deletes from (a concurrent import of those accounts
 * waits, so the two cannot deadlock on the rows they share); `usage_type=` narrows to token buckets of
 * one type, `resource=` to one resource.
 */
export async function deleteBuckets(db: Db, r: DeleteRange): Promise<number> {
  const where = (table: string) => sql`tenant_id = ${r.tenantId}
        and start_time >= ${r.start.toISOString()}::timestamptz and end_time <= ${r.end.toISOString()}::timestamptz
        ${r.source !== undefined ? sql`and source = ${r.source}` : sql``}
        ${r.accountId !== undefined ? sql`and account_id = ${r.accountId}` : sql``}
        ${table === 'usage_buckets' && r.usageType !== undefined ? sql`and usage_type = ${r.usageType}` : sql``}
        ${table === 'usage_resources' && r.resource !== undefined ? sql`and resource = ${r.resource}` : sql``}`
  const buckets = r.resource === undefined ? sql`delete from usage_buckets where ${where('usage_buckets')} returning 1` : sql`select 1 where false`
  const resources = r.usageType === undefined ? sql`delete from usage_resources where ${where('usage_resources')} returning 1` : sql`select 1 where false`
  return db.transaction(async (tx) => {
    await lockAccounts(
      tx,
      r.tenantId,
      sql`select provider, account_id from usage_buckets where ${where('usage_buckets')} union select provider, account_id from usage_resources where ${where('usage_resources')}`,
    )
    const rows = await tx.query<{ n: number }>(
      sql`with b as (${buckets}), r as (${resources})
      select ((select count(*) from b) + (select count(*) from r))::int8 as n`,
    )
    return rows[0]!.n
  })
}
