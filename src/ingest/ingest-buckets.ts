import { createReadStream } from 'node:fs'
import type { Readable } from 'node:stream'
import type { Db } from '../db/client.js'
import { copyFailurePosition, isDataException, retryTransient } from '../db/errors.js'
import {
  createStage,
  findOverlap,
  lockAccountsOf,
  lockStagedAccounts,
  mergeAndUpsert,
  mergesInOneStatement,
  mergeStage,
  oversizedSums,
  STAGE_CHUNK,
  copyLine,
  STAGE_COLUMNS,
  StageChunk,
  stageChunk,
  stagedOverlap,
  upsertChunk,
  type OverlapSide,
} from '../db/queries/buckets.js'
import { findResourceClash, upsertResources } from '../db/queries/resources.js'
import { ProblemList, problems, type ProblemItem } from '../errors.js'
import { isAnthropicCostReport, isAnthropicUsageBody, parseAnthropicPages } from './anthropic-usage.js'
import type { BucketSource, NormalisedBucket, RowDefaults } from './bucket.js'
import { parseCanonical, type ParsedJsonRows } from './canonical.js'
import { costsBodyDetail, notUsage } from './costs-posted.js'
import { checkShapes, type BucketShape, type ShapeCheck } from './intervals.js'
import { mergeRows, type IndexedBucket } from './merge.js'
import { readUsageCsv } from './openai-csv.js'
import { isOpenAICostsPage, isOpenAIPageBody, OPENAI_ATTRIBUTE_KEYS, OPENAI_COSTS_RESULT, OPENAI_RESOURCE_ATTRIBUTES, parseOpenAIPages } from './openai-page.js'
import { describeResource, mergeResources, type IndexedResource } from './resource.js'
import { beforeRetention, retentionMovedUnderLock, type RetentionGuard } from './retention.js'
import { declaredShape, GROUP_BY_DIMENSIONS, unknownGroupBy, type DeclaredShape } from './shapes.js'
import { spoolToTempFile } from './spool.js'
import { eachRow } from './turns.js'
import { ownValue } from '../own-key.js'

export interface IngestResult {
  received: number
  skipped: number
  created: number
  replaced: number
  unchanged: number
  /** Internal (not in the response): earliest and latest start_time written, for budget evaluation. */
  span?: { start: Date; end: Date }
}

/** Tracks the earliest and latest start seen (buckets and resources). */
function spanTracker() {
  let lo = Infinity
  let hi = -Infinity
  return {
    see: (b: Pick<NormalisedBucket, 'startMs'>) => {
      lo = Math.min(lo, b.startMs)
      hi = Math.max(hi, b.startMs)
    },
    span: () => (lo <= hi ? { start: new Date(lo), end: new Date(hi) } : undefined),
  }
}

export interface ProducedRows {
  received: number
  skipped: number
  problems: ProblemList
}

/**
 * Feeds rows (with their index or CSV line) to `emit`; may await it for back-pressure. It may be run
 * again (a retried transaction, naming a row PostgreSQL refused), so it must read its source afresh.
 */
export type RowProducer = (emit: (ref: number, bucket: NormalisedBucket) => void | Promise<void>) => Promise<ProducedRows>

function describeSide(s: OverlapSide, refKind: 'index' | 'line'): string {
  const dims = (['usage_type', 'model', 'project_id', 'user_id', 'api_key_id', 'batch', 'shape'] as const).map((k) => `${k}=${s[k] === null ? 'null' : String(s[k])}`)
  const range = `${new Date(s.start_time).toISOString()}–${new Date(s.end_time).toISOString()}`
  return `${s.incoming ? `the bucket at ${refKind} ${s.ref}` : `stored bucket ${s.ref}`} (${range}, ${dims.join(', ')})`
}

/**
 * One all-or-nothing ingestion: stage every row, sum rows sharing a natural key, enforce the
 * overlap rule, upsert. Any problem throws, which rolls the transaction (and the staging) back.
 * `sharedIfStored`: take the accounts' locks shared when every staged shape is already stored
 * (`lockAccounts`, src/db/queries/buckets.ts); when that no longer holds under the lock, nothing is
 * written and the ingestion runs again with exclusive locks (the producer reads its source afresh).
 */
export async function ingestBuckets(
  db: Db,
  tenantId: string,
  source: BucketSource,
  refKind: 'index' | 'line',
  produce: RowProducer,
  sharedIfStored = false,
  retention?: RetentionGuard,
): Promise<IngestResult> {
  const attempt = (shareable: boolean) => namingRejectedRow(refKind, produce, () => db.transaction(async (tx) => {
    await createStage(tx)
    const produced = await stageRows(tx, produce)
    if (produced.problems.length > 0) throw problems.validation(produced.problems)
    const moved = await retentionMovedUnderLock(tx, retention)
    if (moved) {
      const old = await tx.query<{ ord: number; ms: number }>(
        'select ord, (extract(epoch from start_time) * 1000)::float8 as ms from bucket_stage where start_time < $1 order by ord',
        [moved.cutoff],
      )
      if (old.length > 0) throw problems.validation(old.flatMap((r) => retentionProblem(moved, r.ms, { [refKind]: r.ord, path: 'start_time' } as RowAt)))
    }
    // Check and write under the accounts' locks, so a concurrent writer's buckets are seen (or wait).
    // Shared only for a merge in one statement (see ROW_LOCK_ORDER).
    const shared = await lockStagedAccounts(tx, tenantId, shareable && mergesInOneStatement(produced.staged))

    const oversizedProblem = (refs: number[]) =>
      problems.validation(refs.map((ref) => ({ [refKind]: ref, path: '', message: 'the sum of the rows sharing this natural key exceeds 2^53 − 1' })))
    const checked = await stagedOverlap(tx, tenantId, shared)
    if (checked.unstored) throw new SharedLockLapsed()
    if (checked.overlap) {
      // Rare: materialise the sums to report as before (an oversized sum first, then the pair).
      await mergeStage(tx)
      const oversized = await oversizedSums(tx)
      if (oversized.length > 0) throw oversizedProblem(oversized)
      const overlap = await findOverlap(tx, tenantId)
      if (overlap) {
        const [incoming, other] = overlap
        const item = { [refKind]: incoming.ref, path: 'start_time', message: `overlaps ${describeSide(other, refKind)}` }
        throw problems.conflict(
          `${describeSide(incoming, refKind)} overlaps ${describeSide(other, refKind)}: ${OVERLAP_RULE}`,
          [item],
        )
      }
    }
    const { distinct, created, replaced, oversized } = await mergeAndUpsert(tx, tenantId, source, produced.staged, { exclusive: !shared })
    if (oversized.length > 0) throw oversizedProblem(oversized)
    return { received: produced.received, skipped: produced.skipped, created, replaced, unchanged: distinct - created - replaced }
  }))
  try {
    return await attempt(sharedIfStored)
  } catch (err) {
    if (!(err instanceof SharedLockLapsed)) throw err
    return attempt(false)
  }
}

/** A writer holding its accounts' locks shared found a shape no longer stored: it wrote nothing and starts again exclusively. */
class SharedLockLapsed extends Error {}

/**
 * PostgreSQL refused a staged value (SQLSTATE class 22: a NUL byte, a date out of its range): the
 * client's data. Thrown out of the transaction, so it has rolled back and released its connection
 * before the row is named.
 */
class StagedRowRejected extends Error {
  constructor(
    /** The row's index or line when known (batched inserts), else its 1-based position among staged rows (COPY). */
    readonly at: { ref: number } | { staged: number; column?: string },
    readonly refusal: unknown,
  ) {
    super('PostgreSQL refused a staged row')
  }
}

const stagedColumns = new Set<string>(STAGE_COLUMNS)

/** Runs the ingest; a row PostgreSQL refused becomes a 400 naming its index or line. */
async function namingRejectedRow<T>(refKind: 'index' | 'line', produce: RowProducer, run: () => Promise<T>): Promise<T> {
  try {
    return await run()
  } catch (err) {
    if (!(err instanceof StagedRowRejected)) throw err
    let ref: number | undefined
    let column: string | undefined
    if ('ref' in err.at) ref = err.at.ref
    else {
      const { staged } = err.at
      column = err.at.column
      // COPY names the n-th data line; the producer runs again (it reads the spool or memory) to find
      // which input row that was, and stops there.
      let n = 0
      const found = new Error('found')
      await produce((r) => {
        if (++n !== staged) return
        ref = r
        throw found
      }).catch((e: unknown) => {
        if (e !== found) throw e
      })
    }
    const reason = (err.refusal as { message?: unknown }).message
    throw problems.validation([
      {
        ...(ref === undefined ? {} : { [refKind]: ref }),
        path: column && stagedColumns.has(column) && column !== 'ord' ? column : '',
        message: `PostgreSQL cannot store this row${typeof reason === 'string' ? `: ${reason}` : ''}`,
      },
    ])
  }
}

/**
 * Streams the producer's rows into the staging table: COPY on PostgreSQL (parsing and the server's
 * inserts overlap), batched unnest inserts elsewhere. Memory stays bounded by one batch.
 */
async function stageRows(tx: Db, produce: RowProducer): Promise<ProducedRows & { staged: number }> {
  let staged = 0
  if (!tx.copyIn) {
    let chunk = new StageChunk()
    const produced = await produce((ref, bucket) => {
      staged++
      chunk.push(ref, bucket)
      if (chunk.length < STAGE_CHUNK) return
      const full = chunk
      chunk = new StageChunk()
      return stageChunkNamingRow(tx, full)
    })
    await stageChunkNamingRow(tx, chunk)
    return { ...produced, staged }
  }
  // The COPY lasts as long as the file takes to parse (minutes for a 10M-row export), so it is exempt
  // from STATEMENT_TIMEOUT_MS, which bounds every other statement of the import: an export whose COPY
  // outlasted it failed as "Query timed out". Its data keeps flowing, so the response deadline
  // (src/db/response-deadline.ts) still closes it if PostgreSQL stops answering.
  await tx.query('set local statement_timeout = 0')
  const copy = await tx.copyIn('bucket_stage', STAGE_COLUMNS)
  let batch = ''
  let produced: ProducedRows
  try {
    try {
      produced = await produce((ref, bucket) => {
        staged++
        batch += copyLine(ref, bucket)
        if (batch.length < COPY_BATCH_CHARS) return
        const full = batch
        batch = ''
        return copy.write(full)
      })
      if (batch) await copy.write(batch)
    } finally {
      // The connection runs nothing else until the COPY ends, the rollback after an error included.
      await copy.end()
    }
  } catch (err) {
    const at = isDataException(err) ? copyFailurePosition(err) : undefined
    throw at ? new StagedRowRejected({ staged: at.line, ...(at.column ? { column: at.column } : {}) }, err) : err
  }
  await tx.query('set local statement_timeout to default')
  return { ...produced, staged }
}

/**
 * One batched insert, in a savepoint: when PostgreSQL refuses a value, halves of the chunk are
 * inserted again (each in its own savepoint) until the one row it refuses is found and named. The
 * transaction is rolled back afterwards, so rows staged while searching are never used.
 */
async function stageChunkNamingRow(tx: Db, chunk: StageChunk): Promise<void> {
  const attempt = (lo: number, hi: number) =>
    tx.transaction((sp) => stageChunk(sp, lo === 0 && hi === chunk.length ? chunk : sliceChunk(chunk, lo, hi))).then(
      () => undefined,
      (e: unknown) => (isDataException(e) ? e : Promise.reject(e)),
    )
  let refused = await attempt(0, chunk.length)
  if (!refused) return
  let [lo, hi] = [0, chunk.length]
  while (hi - lo > 1) {
    const mid = lo + ((hi - lo) >> 1)
    const inFirst = await attempt(lo, mid)
    if (inFirst) [hi, refused] = [mid, inFirst]
    else lo = mid
  }
  throw new StagedRowRejected({ ref: Number(chunk.ord[lo]) }, refused)
}

function sliceChunk(chunk: StageChunk, lo: number, hi: number): StageChunk {
  const part = new StageChunk()
  part.ord.push(...chunk.ord.slice(lo, hi))
  for (const [col, values] of Object.entries(chunk.cols)) part.cols[col as keyof StageChunk['cols']].push(...values.slice(lo, hi))
  return part
}

const COPY_BATCH_CHARS = 1 << 16

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

const OVERLAP_RULE =
  'rows of one provider account and usage type (or resource) may overlap in time only with the same start, end and report shape ' +
  '(DELETE /v1/usage/buckets to re-import at another granularity or shape)'

/** Thrown inside the write transaction when token buckets break the overlap rule: the staged path names the pair. */
class BucketOverlap extends Error {}

/** The source a JSON body's rows are stored under: canonical rows, an Anthropic report or OpenAI pages; undefined: none. */
export function jsonBodySource(body: unknown): BucketSource | undefined {
  if (isObject(body) && ('buckets' in body || 'resources' in body)) return 'api'
  if (isAnthropicUsageBody(body)) return 'anthropic_api'
  if (isOpenAIPageBody(body)) return 'openai_api'
  return undefined
}

/** Forms 1 and 2 (and Anthropic reports): the JSON body is already in memory (bounded by BODY_LIMIT), so it is checked first. */
export async function ingestJsonBody(db: Db, tenantId: string, body: unknown, defaults: RowDefaults, retention?: RetentionGuard): Promise<IngestResult> {
  let parsed: ParsedJsonRows
  const source = jsonBodySource(body)
  if (source === 'api') {
    refuseRowDefaults(defaults)
    parsed = await parseCanonical(body as { buckets?: unknown; resources?: unknown })
  } else if (source === 'anthropic_api') {
    if (isAnthropicCostReport(body))
      throw problems.validation(
        [{ path: 'data', message: notUsage('results with amount and cost_type are an Anthropic cost_report (billed costs in cents)') }],
        costsBodyDetail('an Anthropic cost_report page'),
      )
    parsed = await parseAnthropicPages(body as Parameters<typeof parseAnthropicPages>[0], defaults)
  } else if (source === 'openai_api') {
    if (isOpenAICostsPage(body))
      throw problems.validation(
        [{ path: 'data', message: notUsage(`results with object ${JSON.stringify(OPENAI_COSTS_RESULT)} are an OpenAI costs page (billed costs)`) }],
        costsBodyDetail('an OpenAI costs page'),
      )
    parsed = await parseOpenAIPages(body as Parameters<typeof parseOpenAIPages>[0], defaults)
  } else {
    throw problems.validation(
      [{ path: '', message: 'expected {"buckets":[…], "resources":[…]}, a usage page (an object with a data array) or an array of pages' }],
      'the JSON body is not a bucket list or a usage page',
    )
  }
  const all = ProblemList.of(parsed.problems)
  const tooOld = (guard: RetentionGuard | undefined) => [
    ...parsed.rows.flatMap(({ index, bucket }) => retentionProblem(guard, bucket.startMs, { index, path: 'start_time' })),
    ...parsed.resources.flatMap(({ index, resource }) => retentionProblem(guard, resource.startMs, { index, path: 'resources.start_time' })),
  ]
  all.push(...tooOld(retention))
  if (all.length > 0) throw problems.validation(all)
  // In each write transaction, once retention is held off: the rows again against a cutoff that moved since.
  const refuseMoved = async (tx: Db) => {
    const moved = await retentionMovedUnderLock(tx, retention)
    const old = moved ? tooOld(moved) : []
    if (old.length > 0) throw problems.validation(old)
  }
  const seen = spanTracker()
  for (const row of parsed.rows) seen.see(row.bucket)
  for (const row of parsed.resources) seen.see(row.resource)
  // Summing by natural key builds each row's key again: a quarter of the canonical form's parsing time.
  const merged = parsed.distinctKeys ? { rows: parsed.rows, problems: new ProblemList() } : await mergeRows(parsed.rows)
  const mergedResources = parsed.distinctKeys ? { rows: parsed.resources, problems: new ProblemList() } : await mergeResources(parsed.resources)
  if (merged.problems.length > 0 || mergedResources.problems.length > 0) throw problems.validation(ProblemList.of(merged.problems, mergedResources.problems))
  const declared = declaredShape(defaults.groupBy)
  // Only when there are rows: an empty page may declare its endpoint's attributes (a puller's `group_by`).
  if (merged.rows.length + mergedResources.rows.length > 0)
    refuseUnknownGroupBy(declared, mergedResources.rows.flatMap((r) => Object.keys(r.resource.attributes)))
  const bucketShapes = await checkShapes(
    merged.rows.map((r) => ({ dims: r.bucket, kind: r.bucket.usageType })),
    declared,
  )
  const resourceShapes = await checkShapes(
    mergedResources.rows.map((r) => ({ dims: r.resource, kind: r.resource.resource, attributeKeys: Object.keys(r.resource.attributes) })),
    declared,
    (resource) => ownValue(OPENAI_RESOURCE_ATTRIBUTES, resource),
  )
  if (resourceShapes.overlapping) throw resourceOverlapWithin(mergedResources.rows)
  const unchanged = (created: number, replaced: number) => merged.rows.length + mergedResources.rows.length - created - replaced
  // Two imports that touch the same hours lock the same rollup rows; the loser of a deadlock wrote
  // nothing and runs again.
  try {
    const counts = await retryTransient(() =>
      mergedResources.rows.length === 0
        ? upsertInMemory(db, tenantId, source, merged.rows, bucketShapes, true, refuseMoved)
        : db.transaction(async (tx) => {
          // Resources follow the same rule under the same per-account locks, taken at once in key order.
          await lockAccountsOf(tx, tenantId, accountsOf([...merged.rows.map((r) => r.bucket), ...mergedResources.rows.map((r) => r.resource)]))
          await refuseMoved(tx)
          const b = await upsertInMemory(tx, tenantId, source, merged.rows, bucketShapes)
          if (!b) throw new BucketOverlap()
          const r = await upsertResources(tx, tenantId, source, mergedResources.rows, resourceShapes.shapes)
          if (r.conflict) throw await resourceOverlapStored(tx, tenantId, mergedResources.rows, resourceShapes.shapes)
          return { created: b.created + r.created, replaced: b.replaced + r.replaced }
        }),
    )
    if (counts) return { received: parsed.received, skipped: parsed.skipped, ...counts, unchanged: unchanged(counts.created, counts.replaced), span: seen.span() }
  } catch (err) {
    if (!(err instanceof BucketOverlap)) throw err
  }
  // An overlap of token buckets: the staged path finds the offending pair to name it (and writes nothing).
  if (mergedResources.rows.length > 0) {
    // Resources must not be written without their buckets: name the pair in a transaction that is
    // always rolled back (a concurrent delete could otherwise let the buckets alone through).
    const named: unknown = await db
      .transaction(async (tx) => {
        await ingestBuckets(tx, tenantId, source, 'index', async (emit) => {
          for (const row of merged.rows) await emit(row.index, row.bucket)
          return { received: parsed.received, skipped: parsed.skipped, problems: new ProblemList() }
        }, false, retention)
        throw new BucketOverlap()
      })
      .catch((err: unknown) => err)
    throw named instanceof BucketOverlap ? problems.conflict(`stored buckets changed during the request; send it again`) : named
  }
  return ingestBuckets(db, tenantId, source, 'index', async (emit) => {
    for (const row of merged.rows) await emit(row.index, row.bucket)
    return { received: parsed.received, skipped: parsed.skipped, problems: new ProblemList() }
  }, false, retention)
}

/**
 * `?provider=` / `?account_id=` are the defaults of rows that name none in a page or a CSV export. A canonical
 * row names its own (absent: openai, no account), so beside one they were ignored: the rows were filed under
 * no account while the request named one, and a client that learns that and re-posts with the account
 * in its rows would count them twice. Refused instead, nothing written.
 */
function refuseRowDefaults(defaults: RowDefaults): void {
  const given = (['provider', 'account_id'] as const).filter((name) => (name === 'provider' ? defaults.provider : defaults.accountId) !== undefined)
  if (given.length)
    throw problems.validation(
      given.map((name) => ({
        path: `querystring.${name}`,
        message: `applies to usage pages and CSV exports only; a {"buckets":[…], "resources":[…]} row names its own ${name} (absent: ${name === 'provider' ? 'openai' : 'no account'})`,
      })),
    )
}

/** A declared `?group_by=` name that is no dimension nor attribute (a typo would silently change the shape) → 400. */
function refuseUnknownGroupBy(declared: DeclaredShape | undefined, rowAttributeKeys: Iterable<string>): void {
  const unknownNames = unknownGroupBy(declared, rowAttributeKeys, OPENAI_ATTRIBUTE_KEYS)
  if (unknownNames.length)
    throw problems.validation(
      unknownNames.map((name) => ({
        path: 'query.group_by',
        message: `"${name}" is neither a dimension (${GROUP_BY_DIMENSIONS.join(', ')}) nor an attribute of any resource row in the request`,
      })),
    )
}

type RowAt = { index: number; path: string } | { line: number; path: string }

function retentionProblem(guard: RetentionGuard | undefined, startMs: number, at: RowAt): ProblemItem[] {
  const message = beforeRetention(guard, startMs)
  return message ? [{ ...at, message: `${at.path} ${message}` }] : []
}

const sameShape = (r: IndexedResource, s: BucketShape) =>
  r.resource.provider === s.provider && r.resource.accountId === s.accountId && r.resource.resource === s.kind && r.resource.startMs === s.startMs && r.resource.endMs === s.endMs

/** 409 naming two incoming resources that overlap (rows are few: a quadratic search is fine here). */
function resourceOverlapWithin(rows: readonly IndexedResource[]): Error {
  for (const a of rows)
    for (const b of rows) {
      const x = a.resource
      const y = b.resource
      if (b.index <= a.index || x.provider !== y.provider || x.accountId !== y.accountId || x.resource !== y.resource) continue
      if (x.startMs < y.endMs && y.startMs < x.endMs && !(x.startMs === y.startMs && x.endMs === y.endMs))
        return problems.conflict(`the resource at index ${a.index} (${describeResource(x)}) overlaps the resource at index ${b.index} (${describeResource(y)}): ${OVERLAP_RULE}`, [
          { index: a.index, path: 'resources', message: `overlaps the resource at index ${b.index}` },
        ])
    }
  return problems.conflict(`resources overlap: ${OVERLAP_RULE}`)
}

/** 409 naming the stored resource an incoming shape clashes with. */
async function resourceOverlapStored(tx: Db, tenantId: string, rows: readonly IndexedResource[], shapes: readonly BucketShape[]): Promise<Error> {
  const clash = await findResourceClash(tx, tenantId, shapes)
  if (!clash) return problems.conflict(`resources overlap stored resources: ${OVERLAP_RULE}`)
  const shape = shapes[clash.shape_no - 1]!
  const row = rows.find((r) => sameShape(r, shape))!
  const stored =
    `stored resource ${clash.id} (${new Date(clash.start_time).toISOString()}–${new Date(clash.end_time).toISOString()} ${clash.resource}, ` +
    `model=${clash.model ?? 'null'}, project_id=${clash.project_id ?? 'null'}, attributes=${JSON.stringify(clash.attributes)}, shape=${clash.shape})`
  return problems.conflict(`the resource at index ${row.index} (${describeResource(row.resource)}, shape=${shape.shape}) overlaps ${stored}: ${OVERLAP_RULE}`, [
    { index: row.index, path: 'start_time', message: `overlaps ${stored}` },
  ])
}

/**
 * The fast path for rows already in memory, merged and shaped: no staging table, the overlap rule
 * checked in memory among the rows (`check`) and by index probes against stored buckets, under the
 * accounts' locks. Returns undefined, having written nothing, when the overlap rule is broken.
 * `sharedFirst`: try with the accounts' locks shared (`lockAccounts`, src/db/queries/buckets.ts): the
 * write statement then writes only if every shape is already stored exactly — a re-post, or more rows
 * of the shapes stored — and otherwise nothing, stopping at the first shape it does not find; the rows
 * are then written in one more transaction under exclusive locks.
 */
async function upsertInMemory(
  db: Db,
  tenantId: string,
  source: BucketSource,
  rows: IndexedBucket[],
  check: ShapeCheck,
  sharedFirst = false,
  beforeWrite?: (tx: Db) => Promise<void>,
): Promise<{ created: number; replaced: number } | undefined> {
  if (rows.length === 0) return { created: 0, replaced: 0 }
  const { shapes, overlapping } = check
  if (overlapping) return undefined
  const chunks: StageChunk[] = []
  await eachRow(rows, (r, i) => {
    if (i % STAGE_CHUNK === 0) chunks.push(new StageChunk())
    chunks[chunks.length - 1]!.push(r.index, r.bucket)
  })
  const accounts = accountsOf(rows.map((r) => r.bucket))
  const run = (shared: boolean) => async (tx: Db) => {
    // Check and write under the accounts' locks, so a concurrent writer's buckets are seen (or wait).
    await lockAccountsOf(tx, tenantId, accounts, shared)
    await beforeWrite?.(tx)
    const first = await upsertChunk(tx, tenantId, source, chunks[0]!, shapes, shared)
    if (first.unstored) return 'lapsed' as const
    if (first.conflict) return undefined
    let { created, replaced } = first
    for (const chunk of chunks.slice(1)) {
      const next = await upsertChunk(tx, tenantId, source, chunk)
      created += next.created
      replaced += next.replaced
    }
    return { created, replaced }
  }
  // The locks last until the transaction ends: even one chunk needs it.
  // Shared only for one statement (see ROW_LOCK_ORDER in src/db/queries/buckets.ts).
  const result = await db.transaction(run(sharedFirst && chunks.length === 1))
  // Nothing was written under the shared locks: again, exclusively.
  return result === 'lapsed' ? ((await db.transaction(run(false))) as Exclude<typeof result, 'lapsed'>) : result
}

/**
 * The rows' (provider, account) pairs in order of first appearance, a run of rows of one account taken once:
 * what `lockAccountsOf` locks, without its key text per row (a request's rows nearly always share one
 * account, and the lock statement is built once or twice per request).
 */
function accountsOf(rows: readonly Pick<NormalisedBucket, 'provider' | 'accountId'>[]): Pick<NormalisedBucket, 'provider' | 'accountId'>[] {
  const out: Pick<NormalisedBucket, 'provider' | 'accountId'>[] = []
  let last: Pick<NormalisedBucket, 'provider' | 'accountId'> | undefined
  for (const r of rows) {
    if (last && r.provider === last.provider && r.accountId === last.accountId) continue
    out.push((last = r))
  }
  return out
}

/** Form 3: the CSV is spooled to a temp file first, then parsed as a stream inside the transaction. */
export async function ingestCsvUpload(
  db: Db,
  tenantId: string,
  body: Readable,
  defaults: RowDefaults,
  limit: number,
  retention?: RetentionGuard,
): Promise<IngestResult> {
  // The declared shape is the floor of every row's reported dimensions: the staged shape (bit_or of
  // `present` per provider, account, usage type, start, end) is then the JSON forms' (checkShapes).
  const declared = declaredShape(defaults.groupBy)
  refuseUnknownGroupBy(declared, [])
  const spooled = await spoolToTempFile(body, limit)
  const seen = spanTracker()
  try {
    // The spooled file can be read again, so a transaction that lost a deadlock is simply retried.
    const result = await retryTransient(() =>
      ingestBuckets(db, tenantId, 'openai_csv', 'line', async (emit) => {
        // Rows before the retention cutoff are named, never staged; any one fails the whole upload.
        const tooOld = new ProblemList()
        const read = await readUsageCsv(createReadStream(spooled.path), defaults, (bucket, line) => {
          const old = retentionProblem(retention, bucket.startMs, { line, path: 'start_time' })
          if (old.length) return void tooOld.push(...old)
          seen.see(bucket)
          if (declared) bucket.present |= declared.mask
          return emit(line, bucket)
        })
        return { ...read, problems: ProblemList.of(read.problems, tooOld) }
      }, true, retention),
    )
    return { ...result, span: seen.span() }
  } finally {
    await spooled.cleanup()
  }
}
