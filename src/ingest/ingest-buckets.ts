import { createReadStream } from 'node:fs'
import type { Readable } from 'node:stream'
import type { Db } from '../db/client.js'
import { retryTransient } from '../db/errors.js'
import {
  createStage,
  findOverlap,
  lockAccountsOf,
  lockStagedAccounts,
  mergeAndUpsert,
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
import { problems } from '../errors.js'
import type { BucketSource, NormalisedBucket, RowDefaults, RowProblem } from './bucket.js'
import { parseCanonical, type ParsedJsonRows } from './canonical.js'
import { checkShapes } from './intervals.js'
import { mergeRows, type IndexedBucket } from './merge.js'
import { readUsageCsv } from './openai-csv.js'
import { isOpenAIPageBody, parseOpenAIPages } from './openai-page.js'
import { spoolToTempFile } from './spool.js'

export interface IngestResult {
  received: number
  skipped: number
  created: number
  replaced: number
  unchanged: number
  /** Internal (not in the response): earliest and latest start_time written, for budget evaluation. */
  span?: { start: Date; end: Date }
}

/** Tracks the earliest and latest bucket start seen. */
function spanTracker() {
  let lo = Infinity
  let hi = -Infinity
  return {
    see: (b: NormalisedBucket) => ((lo = Math.min(lo, b.startMs)), (hi = Math.max(hi, b.startMs))),
    span: () => (lo <= hi ? { start: new Date(lo), end: new Date(hi) } : undefined),
  }
}

export interface ProducedRows {
  received: number
  skipped: number
  problems: RowProblem[]
}

/** Feeds rows (with their index or CSV line) to `emit`; may await it for back-pressure. */
export type RowProducer = (emit: (ref: number, bucket: NormalisedBucket) => void | Promise<void>) => Promise<ProducedRows>

function describeSide(s: OverlapSide, refKind: 'index' | 'line'): string {
  const dims = (['model', 'project_id', 'user_id', 'api_key_id', 'batch'] as const).map((k) => `${k}=${s[k] === null ? 'null' : String(s[k])}`)
  const range = `${new Date(s.start_time).toISOString()}–${new Date(s.end_time).toISOString()}`
  return `${s.incoming ? `the bucket at ${refKind} ${s.ref}` : `stored bucket ${s.ref}`} (${range}, ${dims.join(', ')})`
}

/**
 * One all-or-nothing ingestion: stage every row, sum rows sharing a natural key, enforce the
 * overlap rule, upsert. Any problem throws, which rolls the transaction (and the staging) back.
 */
export async function ingestBuckets(
  db: Db,
  tenantId: string,
  source: BucketSource,
  refKind: 'index' | 'line',
  produce: RowProducer,
): Promise<IngestResult> {
  return db.transaction(async (tx) => {
    await createStage(tx)
    const produced = await stageRows(tx, produce)
    if (produced.problems.length > 0) throw problems.validation(produced.problems)
    // Check and write under the accounts' locks, so a concurrent writer's buckets are seen (or wait).
    await lockStagedAccounts(tx, tenantId)

    const oversizedProblem = (refs: number[]) =>
      problems.validation(refs.map((ref) => ({ [refKind]: ref, path: '', message: 'the sum of the rows sharing this natural key exceeds 2^53 − 1' })))
    if (await stagedOverlap(tx, tenantId)) {
      // Rare: materialise the sums to report as before (an oversized sum first, then the pair).
      await mergeStage(tx)
      const oversized = await oversizedSums(tx)
      if (oversized.length > 0) throw oversizedProblem(oversized)
      const overlap = await findOverlap(tx, tenantId)
      if (overlap) {
        const [incoming, other] = overlap
        const item = { [refKind]: incoming.ref, path: 'start_time', message: `overlaps ${describeSide(other, refKind)}` }
        throw problems.conflict(
          `${describeSide(incoming, refKind)} overlaps ${describeSide(other, refKind)}: buckets of one provider account may ` +
            'overlap in time only with the same start, end and null dimensions (DELETE /v1/usage/buckets to re-import at another granularity)',
          [item],
        )
      }
    }
    const { distinct, created, replaced, oversized } = await mergeAndUpsert(tx, tenantId, source)
    if (oversized.length > 0) throw oversizedProblem(oversized)
    return { received: produced.received, skipped: produced.skipped, created, replaced, unchanged: distinct - created - replaced }
  })
}

/**
 * Streams the producer's rows into the staging table: COPY on PostgreSQL (parsing and the server's
 * inserts overlap), batched unnest inserts elsewhere. Memory stays bounded by one batch.
 */
async function stageRows(tx: Db, produce: RowProducer): Promise<ProducedRows> {
  if (!tx.copyIn) {
    let chunk = new StageChunk()
    const produced = await produce((ref, bucket) => {
      chunk.push(ref, bucket)
      if (chunk.length < STAGE_CHUNK) return
      const full = chunk
      chunk = new StageChunk()
      return stageChunk(tx, full)
    })
    await stageChunk(tx, chunk)
    return produced
  }
  const copy = await tx.copyIn('bucket_stage', STAGE_COLUMNS)
  let batch = ''
  let produced: ProducedRows
  try {
    produced = await produce((ref, bucket) => {
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
  return produced
}

const COPY_BATCH_CHARS = 1 << 16

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** Forms 1 and 2: the JSON body is already in memory (bounded by BODY_LIMIT), so it is checked first. */
export async function ingestJsonBody(db: Db, tenantId: string, body: unknown, defaults: RowDefaults): Promise<IngestResult> {
  let parsed: ParsedJsonRows
  let source: BucketSource
  if (isObject(body) && 'buckets' in body) {
    parsed = parseCanonical({ buckets: body.buckets })
    source = 'api'
  } else if (isOpenAIPageBody(body)) {
    parsed = parseOpenAIPages(body, defaults)
    source = 'openai_api'
  } else {
    throw problems.validation(
      [{ path: '', message: 'expected {"buckets":[…]}, an OpenAI usage page (an object with a data array) or an array of pages' }],
      'the JSON body is not a bucket list or an OpenAI usage page',
    )
  }
  if (parsed.problems.length > 0) throw problems.validation(parsed.problems)
  const seen = spanTracker()
  for (const row of parsed.rows) seen.see(row.bucket)
  const merged = mergeRows(parsed.rows)
  if (merged.problems.length > 0) throw problems.validation(merged.problems)
  // Two imports that touch the same hours lock the same rollup rows; the loser of a deadlock wrote
  // nothing and runs again.
  const counts = await retryTransient(() => upsertInMemory(db, tenantId, source, merged.rows))
  if (counts) return { received: parsed.received, skipped: parsed.skipped, ...counts, unchanged: merged.rows.length - counts.created - counts.replaced, span: seen.span() }
  // An overlap: the staged path finds the offending pair to name it (and writes nothing).
  return ingestBuckets(db, tenantId, source, 'index', async (emit) => {
    for (const row of parsed.rows) await emit(row.index, row.bucket)
    return { received: parsed.received, skipped: parsed.skipped, problems: [] }
  })
}

/**
 * The fast path for rows already in memory, merged: no staging table, the overlap rule checked in
 * memory among the rows and by index probes against stored buckets, under the accounts' locks. Returns undefined, having written nothing, when the overlap rule is broken.
 */
async function upsertInMemory(db: Db, tenantId: string, source: BucketSource, rows: IndexedBucket[]): Promise<{ created: number; replaced: number } | undefined> {
  if (rows.length === 0) return { created: 0, replaced: 0 }
  const { shapes, overlapping } = checkShapes(rows.map((r) => r.bucket))
  if (overlapping) return undefined
  const chunks: StageChunk[] = []
  for (let lo = 0; lo < rows.length; lo += STAGE_CHUNK) {
    const chunk = new StageChunk()
    for (const r of rows.slice(lo, lo + STAGE_CHUNK)) chunk.push(r.index, r.bucket)
    chunks.push(chunk)
  }
  const run = async (tx: Db) => {
    // Check and write under the accounts' locks, so a concurrent writer's buckets are seen (or wait).
    await lockAccountsOf(tx, tenantId, rows.map((r) => r.bucket))
    const first = await upsertChunk(tx, tenantId, source, chunks[0]!, shapes)
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
  return db.transaction(run)
}

/** Form 3: the CSV is spooled to a temp file first, then parsed as a stream inside the transaction. */
export async function ingestCsvUpload(
  db: Db,
  tenantId: string,
  body: Readable,
  defaults: RowDefaults,
  limit: number,
): Promise<IngestResult> {
  const spooled = await spoolToTempFile(body, limit)
  const seen = spanTracker()
  try {
    // The spooled file can be read again, so a transaction that lost a deadlock is simply retried.
    const result = await retryTransient(() =>
      ingestBuckets(db, tenantId, 'openai_csv', 'line', (emit) =>
        readUsageCsv(createReadStream(spooled.path), defaults, (bucket, line) => (seen.see(bucket), emit(line, bucket))),
      ),
    )
    return { ...result, span: seen.span() }
  } finally {
    await spooled.cleanup()
  }
}
