import { ProblemList } from '../errors.js'
import { COUNTER_FIELDS, deriveTokenClasses, type CounterField, type RawCounters, type TokenClasses } from './token-classes.js'
import { presentMask } from './shapes.js'
import { normaliseTier, type Parsed } from './values.js'

export const USAGE_TYPES = ['completions', 'embeddings', 'moderations'] as const
export type UsageType = (typeof USAGE_TYPES)[number]

/** A row's usage type: absent is `completions`. */
export function parseUsageType(v: unknown): Parsed<UsageType> {
  if (v === undefined || v === null) return { ok: true, value: 'completions' }
  if (typeof v === 'string' && (USAGE_TYPES as readonly string[]).includes(v)) return { ok: true, value: v as UsageType }
  return { ok: false, message: `must be one of ${USAGE_TYPES.join(', ')}` }
}

/** The dimensions every stored usage row has (token buckets and resources alike). */
export interface UsageDims {
  provider: string
  accountId: string | null
  startMs: number
  endMs: number
  projectId: string | null
  userId: string | null
  apiKeyId: string | null
  model: string | null
  serviceTier: string
  batch: boolean | null
  contextTier: string | null
  inferenceGeo: string | null
  /** Dimensions the row reported (src/ingest/shapes.ts); the report shape is derived from them. */
  present: number
  /** The report shape, set once the request's rows are known (src/ingest/shapes.ts). */
  shape?: string
}

/** The one shape every token ingest format is reduced to: natural-key dimensions plus stored token classes. */
export interface NormalisedBucket extends UsageDims {
  usageType: UsageType
  classes: TokenClasses
}

/** One problem of one row: `index` for JSON (0-based), `line` for CSV (1-based, header = 1). */
export interface RowProblem {
  index?: number
  line?: number
  path: string
  message: string
}

export const SOURCES = ['openai_api', 'openai_csv', 'anthropic_api', 'api'] as const
export type BucketSource = (typeof SOURCES)[number]

/** `?provider=&account_id=` for forms 2–3: they fill rows that do not name their own. */
export interface RowDefaults {
  provider?: string | undefined
  accountId?: string | undefined
  /** `?group_by=`: the report shape the request declares (src/ingest/shapes.ts). */
  groupBy?: readonly string[] | undefined
}

/**
 * Collects a row's field problems under one `index` or `line` (bounded like any ProblemList: one object
 * with 300,000 unknown fields is one row, and spreading its problems into a call overflowed the stack).
 */
export class RowProblems extends ProblemList {
  constructor(private readonly where: { index: number } | { line: number }) {
    super()
  }

  /** The parsed value, or `fallback` after recording the problem at `path`. */
  take<T>(parsed: Parsed<T>, path: string, fallback: T): T {
    if (parsed.ok) return parsed.value
    this.push({ ...this.where, path, message: `${path} ${parsed.message}` })
    return fallback
  }

  add(path: string, message: string): void {
    this.push({ ...this.where, path, message })
  }
}

/** A row's dimensions as read, before checks and tier normalisation. */
export interface DimFields {
  startMs: number | undefined
  endMs: number | undefined
  provider: string
  accountId: string | null
  projectId: string | null
  userId: string | null
  apiKeyId: string | null
  model: string | null
  serviceTier: string | null
  batch: boolean | null
  contextTier?: string | null | undefined
  inferenceGeo?: string | null | undefined
}

export interface BucketFields extends DimFields {
  usageType?: UsageType | undefined
  counters: RawCounters
}

/**
 * Checks the time order, normalises the tier and records which dimensions were reported. Returns
 * undefined when a time is missing (its problem is already recorded).
 */
export function assembleDims(f: DimFields, problems: RowProblems): UsageDims | undefined {
  if (f.startMs !== undefined && f.endMs !== undefined && f.endMs <= f.startMs)
    // Instants are kept to the millisecond (src/time/instant.ts reads the first three fraction digits):
    // `…00.0001Z`–`…00.0009Z` differ as written but are one instant here, which the message must say.
    problems.add(
      'end_time',
      f.endMs === f.startMs
        ? `end_time must be after start_time; both are ${new Date(f.startMs).toISOString()} (times are read to the millisecond: further fraction digits are not kept)`
        : 'end_time must be after start_time',
    )
  if (f.startMs === undefined || f.endMs === undefined) return undefined
  const { serviceTier, batch } = normaliseTier(f.serviceTier, f.batch)
  const contextTier = f.contextTier ?? null
  const inferenceGeo = f.inferenceGeo ?? null
  return {
    provider: f.provider,
    accountId: f.accountId,
    startMs: f.startMs,
    endMs: f.endMs,
    projectId: f.projectId,
    userId: f.userId,
    apiKeyId: f.apiKeyId,
    model: f.model,
    serviceTier,
    batch,
    contextTier,
    inferenceGeo,
    present: presentMask({
      project_id: f.projectId,
      user_id: f.userId,
      api_key_id: f.apiKeyId,
      model: f.model,
      batch: f.batch,
      service_tier: f.serviceTier,
      context_tier: contextTier,
      inference_geo: inferenceGeo,
    }),
    // Its slot from the start: added later (checkShapes), it gave each row a property store of its own —
    // at 100,000 rows, seconds of allocation and scavenges of an old-space heap in one turn.
    shape: undefined,
  }
}

/**
 * Checks what spans fields (time order, breakdown identities), normalises the tier and derives the
 * token classes. Returns undefined when the row has any problem (already recorded in `problems`).
 */
export function assembleBucket(f: BucketFields, problems: RowProblems): NormalisedBucket | undefined {
  const dims = assembleDims(f, problems)
  const derived = deriveTokenClasses(f.counters)
  if (!derived.ok) for (const e of derived.errors) problems.add(e.path, e.message)
  if (problems.length > 0 || !derived.ok || !dims) return undefined
  // Completes the fresh `dims` object, never `{ ...dims, usageType, classes }`: on Node 20 (V8 11.3)
  // optimised code gives each object spread with more properties a hidden class of its own, built in
  // old space — ~11 µs and ~500 bytes of garbage per row that only a full GC frees. A 1M-row CSV import
  // grew the heap by ~150 MB that way (docs/performance.md "Ingest, round 10"); added properties follow
  // one shared transition instead.
  return Object.assign(dims, { usageType: f.usageType ?? 'completions', classes: derived.value })
}

/** Reads every counter with `parse`; absent fields stay absent (the derivation treats them as unknown). */
export function readCounters(
  get: (field: CounterField) => unknown,
  parse: (v: unknown) => Parsed<number | null>,
  problems: RowProblems,
  fields: readonly CounterField[] = COUNTER_FIELDS,
): RawCounters {
  const out: RawCounters = {}
  for (const field of fields) {
    const raw = get(field)
    if (raw === undefined) continue
    const v = problems.take(parse(raw), field, null)
    if (v !== null) out[field] = v
  }
  return out
}

/** The dimensions of a natural key, in order (shared by buckets and resources). */
export function dimsKey(b: UsageDims): unknown[] {
  return [b.provider, b.accountId, b.startMs, b.endMs, b.projectId, b.userId, b.apiKeyId, b.model, b.serviceTier, b.batch, b.contextTier, b.inferenceGeo]
}

/** A text dimension in a key string: length-prefixed (so no value can imitate a separator), `-` for null. */
const keyPart = (v: string | null): string => (v === null ? '-' : `${v.length}:${v}`)

/**
 * The natural key (without tenant) as one string: equal keys ⇔ equal strings, nulls equal. Built by
 * concatenation (every part in a fixed place, texts length-prefixed): JSON.stringify of the key as an
 * array cost a third of the JSON form's per-row parsing time.
 */
export function naturalKey(b: NormalisedBucket): string {
  return (
    `${keyPart(b.provider)}${keyPart(b.accountId)}${b.startMs}/${b.endMs}/${keyPart(b.projectId)}${keyPart(b.userId)}` +
    `${keyPart(b.apiKeyId)}${keyPart(b.model)}${keyPart(b.serviceTier)}${String(b.batch)}/${keyPart(b.contextTier)}` +
    `${keyPart(b.inferenceGeo)}${b.usageType}`
  )
}

export function describeBucket(b: NormalisedBucket): string {
  return `${new Date(b.startMs).toISOString()}–${new Date(b.endMs).toISOString()} model ${b.model ?? 'null'}`
}
