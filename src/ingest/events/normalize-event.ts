import { createHash } from 'node:crypto'
import type { z } from 'zod'
import {
  COUNTER_FIELDS,
  deriveTokenClasses,
  type FieldProblem,
  type RawCounters,
  type TokenClasses,
} from '../token-classes.js'
import { MAX_JSON_DEPTH, normaliseTier, TOO_DEEP, unstorableText } from '../values.js'
import { parseAttributes, parseQuantity, parseReportedCost, parseResourceName, sortedAttributes } from '../resource.js'
import { EventSchema, MAX_METADATA_BYTES, type EventInput } from './event-schema.js'
import { protoKeyProblems } from './proto-keys.js'
import { parseTimestamp } from './timestamp.js'
import { mapUsage, type MappedUsage } from './usage-mappers.js'

type MappedResource = NonNullable<MappedUsage['resources']>[number]

/** An event as stored: every default applied, counters reduced to token classes. */
export interface NormalizedEvent {
  id: string
  timestamp: Date
  provider: string
  account_id: string | null
  project_id: string | null
  user_id: string | null
  api_key_id: string | null
  model: string
  service_tier: string
  batch: boolean | null
  /** Present only when reported, so events without them hash as they always did. */
  context_tier?: string
  inference_geo?: string
  endpoint: string | null
  request_type: string | null
  session_id: string | null
  employee_id: string | null
  agent_id: string | null
  labels: Record<string, string>
  metadata: Record<string, unknown> | null
  reported_cost: string | null
  reasoning_tokens: number | null
  tokens: TokenClasses
  /** Present only when the event carries resources, so events without them hash as they always did. */
  resources?: EventResource[]
}

/** One resource of an event (contract v2: events may carry `resources`). */
export interface EventResource {
  resource: string
  /** Canonical plain decimal text. */
  quantity: string
  attributes: Record<string, string>
}

/**
 * A resource the raw `usage` already reports (Anthropic's web searches), listed again in `resources`,
 * would be counted twice: refused, as token counters beside `usage` are, whatever the two quantities.
 */
function reportedTwice(fromUsage: readonly MappedResource[], list: readonly unknown[], errors: FieldProblem[]): void {
  const source = new Map(fromUsage.map((r) => [r.resource, r.from]))
  list.forEach((item, i) => {
    const name = typeof item === 'object' && item !== null ? (item as { resource?: unknown }).resource : undefined
    const from = typeof name === 'string' ? source.get(name) : undefined
    if (from) errors.push({ path: `resources.${i}.resource`, message: `${name as string} is already counted from ${from}: send it in one place, not both` })
  })
}

/** The event's `resources`, each checked with the resource parsers every entry point uses. */
function eventResources(list: readonly unknown[], errors: FieldProblem[]): EventResource[] {
  return list.flatMap((item, i) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      errors.push({ path: `resources.${i}`, message: 'must be an object {resource, quantity, attributes}' })
      return []
    }
    const o = item as Record<string, unknown>
    const unknown = Object.keys(o).filter((k) => !['resource', 'quantity', 'attributes'].includes(k))
    for (const k of unknown) errors.push({ path: `resources.${i}.${k}`, message: 'is not a resource field (resource, quantity, attributes)' })
    const name = parseResourceName(o.resource)
    const quantity = parseQuantity(o.quantity)
    const attributes = parseAttributes(o.attributes)
    if (!name.ok) errors.push({ path: `resources.${i}.resource`, message: name.message })
    // A gauge is priced over a bucket's duration, which an instant does not have.
    else if (name.value === 'storage_bytes')
      errors.push({ path: `resources.${i}.resource`, message: 'storage_bytes is a gauge over time: send it as a resource row with start_time and end_time' })
    if (!quantity.ok) errors.push({ path: `resources.${i}.quantity`, message: quantity.message })
    if (!attributes.ok) errors.push({ path: `resources.${i}.attributes`, message: attributes.message })
    if (!name.ok || name.value === 'storage_bytes' || !quantity.ok || !attributes.ok || unknown.length) return []
    return [{ resource: name.value, quantity: quantity.value, attributes: sortedAttributes(attributes.value) }]
  })
}

export type Normalized =
  | {
    ok: true
    event: NormalizedEvent
    /** contentHash: the resources hashed in one order, whatever order they were sent in. */
    hash: string
    /** sentOrderHash, only where it differs from `hash` (the resources were sent in another order). */
    sentOrderHash?: string
  }
  | { ok: false; id: string | null; errors: FieldProblem[] }

/** Problems listed per rejected event: one event of BODY_LIMIT could otherwise name millions (every unknown field, every bad label). */
export const MAX_EVENT_PROBLEMS = 100

/** The first MAX_EVENT_PROBLEMS problems, and one more item counting those not listed. */
function listed(errors: FieldProblem[]): FieldProblem[] {
  if (errors.length <= MAX_EVENT_PROBLEMS) return errors
  const more = errors.length - MAX_EVENT_PROBLEMS
  return [...errors.slice(0, MAX_EVENT_PROBLEMS), { path: '(event)', message: `and ${more} more problem${more === 1 ? '' : 's'}, not listed` }]
}

/**
 * More `__proto__` / `constructor.prototype` keys than an event lists (protoKeyProblems stopped at the one
 * past MAX_EVENT_PROBLEMS): the first MAX_EVENT_PROBLEMS, and one more item saying the rest were not searched
 * for, so not counted. Nothing else of the event is checked: its list is full, and the checks that follow
 * walk all of it again.
 */
function tooManyProtoKeys(protoKeys: FieldProblem[]): FieldProblem[] {
  return [
    ...protoKeys.slice(0, MAX_EVENT_PROBLEMS),
    { path: '(event)', message: `and more problems, not listed: an event lists at most ${MAX_EVENT_PROBLEMS}, and was not searched for more` },
  ]
}

function zodProblems(error: z.ZodError): FieldProblem[] {
  return error.issues.flatMap((i) => {
    const path = i.path.map(String).join('.')
    if (i.code === 'unrecognized_keys')
      return i.keys.map((k) => ({ path: path ? `${path}.${k}` : k, message: 'is not an Event field' }))
    if (i.code === 'invalid_key') {
      // A bad label key: name it shortened (it may be long) and say what is wrong with it.
      const key = String(i.path[i.path.length - 1])
      const shown = key.length > 40 ? `${JSON.stringify(key.slice(0, 40))}…` : JSON.stringify(key)
      return [{ path: i.path.slice(0, -1).map(String).join('.'), message: `key ${shown} ${i.issues.map((sub) => sub.message).join('; ')}` }]
    }
    return [{ path: path || '(event)', message: i.message }]
  })
}

/**
 * The tier as every entry point stores it (`normaliseTier`); an event may not contradict tier "batch" with
 * batch: false. The event's own `service_tier` wins over the raw usage's (`usageTier`); where only the usage
 * names one, the event's own `batch` still wins over the batch flag it implies.
 */
function tierAndBatch(
  e: Pick<EventInput, 'service_tier' | 'batch'>,
  usageTier: string | undefined,
  errors: FieldProblem[],
): { tier: string; batch: boolean | null } {
  if ((e.service_tier ?? null) === null && usageTier !== undefined) {
    const own = normaliseTier(usageTier, null)
    return { tier: own.serviceTier, batch: e.batch ?? own.batch }
  }
  const { serviceTier, batch } = normaliseTier(e.service_tier ?? null, e.batch ?? null)
  if (batch === true && e.batch === false) errors.push({ path: 'batch', message: 'is false but service_tier is "batch"' })
  return { tier: serviceTier, batch }
}

function counters(e: EventInput, provider: string, errors: FieldProblem[]) {
  const given = COUNTER_FIELDS.filter((f) => e[f] !== undefined && e[f] !== null)
  if (given.includes('num_model_requests') && e.num_model_requests !== 1)
    errors.push({ path: 'num_model_requests', message: 'an event is one request: omit it or send 1' })
  const tokenFields = given.filter((f) => f !== 'num_model_requests')
  if (e.usage === undefined || e.usage === null) {
    const raw: RawCounters = {}
    for (const f of tokenFields) raw[f] = e[f]
    return { raw, reasoning: null, cost: null, resources: [] }
  }
  if (tokenFields.length > 0)
    errors.push({ path: 'usage', message: `send either usage or token counters, not both (got ${tokenFields.join(', ')})` })
  const mapped = mapUsage(provider, e.usage)
  if (!mapped.ok) {
    errors.push(...mapped.errors)
    return { raw: {}, reasoning: null, cost: null, resources: [] }
  }
  const v = mapped.value
  return { raw: v.counters, reasoning: v.reasoningTokens, cost: v.reportedCost, resources: v.resources ?? [], serviceTier: v.serviceTier, inferenceGeo: v.inferenceGeo }
}

/** Validates one item and applies every default, so equal content always hashes equal. */
export function normalizeEvent(item: unknown): Normalized {
  // On the item as sent, first: nothing else may see such a key (the parsed event no longer has it).
  const protoKeys = protoKeyProblems(item, MAX_EVENT_PROBLEMS)
  if (protoKeys.length > MAX_EVENT_PROBLEMS) {
    const id = typeof item === 'object' && item !== null ? (item as { id?: unknown }).id : undefined
    return { ok: false, id: typeof id === 'string' ? id : null, errors: tooManyProtoKeys(protoKeys) }
  }
  const parsed = EventSchema.safeParse(item)
  if (!parsed.success) {
    const raw = (typeof item === 'object' && item !== null ? item : {}) as Record<string, unknown>
    const errors = zodProblems(parsed.error)
    // Cross-field rules are still reported, so one round trip names every problem.
    if (typeof raw.service_tier === 'string' && typeof raw.batch === 'boolean')
      tierAndBatch({ service_tier: raw.service_tier, batch: raw.batch }, undefined, errors)
    nulProblems(raw, errors)
    return { ok: false, id: typeof raw.id === 'string' ? raw.id : null, errors: listed([...protoKeys, ...errors]) }
  }
  const e = parsed.data
  // The proto keys join the problems last: nulProblems skips a field with a problem already named inside
  // it, and a `metadata.__proto__` must not spare metadata its depth check (what follows walks it recursively).
  const errors: FieldProblem[] = []
  const timestamp = parseTimestamp(e.timestamp)
  if (!timestamp) errors.push({ path: 'timestamp', message: 'is not a valid date-time' })
  // Folded by the schema (providerIdText), as at every entry point.
  const provider = e.provider ?? 'openai'
  const c = counters(e, provider, errors)
  const { tier, batch } = tierAndBatch(e, c.serviceTier, errors)
  const geo = e.inference_geo ?? c.inferenceGeo
  reportedTwice(c.resources, e.resources ?? [], errors)
  const resources = [...c.resources.map(({ from: _from, ...r }) => r), ...eventResources(e.resources ?? [], errors)]
  // Completes the counters object, never `{ ...c.raw, num_model_requests: 1 }`: see assembleBucket (src/ingest/bucket.ts).
  const derived = deriveTokenClasses(Object.assign(c.raw, { num_model_requests: 1 }))
  if (!derived.ok) errors.push(...derived.errors)
  // The one reported-cost rule of every entry point (bounded text, below 10^30). An explicit
  // reported_cost wins over a cost found inside the raw usage object.
  const explicit = e.reported_cost !== undefined && e.reported_cost !== null
  const reported = parseReportedCost(explicit ? e.reported_cost : c.cost)
  if (!reported.ok) errors.push({ path: explicit ? 'reported_cost' : 'usage.cost', message: reported.message })
  const cost = reported.ok ? reported.value : null
  nulProblems(e, errors)
  // Metadata nested too deep is named by nulProblems; measuring it would overflow the stack.
  if (e.metadata && !errors.some((x) => x.path === 'metadata')) {
    // JSON.parse reads a number beyond a double's range (1e400) as ±Infinity, which JSON text and jsonb
    // cannot hold: it was stored (and hashed) as null, another value than the one sent.
    if (hasNonFinite(e.metadata))
      errors.push({ path: 'metadata', message: 'holds a number beyond the range of a double (such as 1e400): send it as a string' })
    const bytes = Buffer.byteLength(metadataJson(e.metadata), 'utf8')
    if (bytes > MAX_METADATA_BYTES)
      errors.push({ path: 'metadata', message: `is ${bytes} bytes serialised; the limit is ${MAX_METADATA_BYTES}` })
  }
  if (protoKeys.length > 0 || errors.length > 0 || !derived.ok || !timestamp) return { ok: false, id: e.id, errors: listed([...protoKeys, ...errors]) }

  const event: NormalizedEvent = {
    id: e.id,
    timestamp,
    provider,
    account_id: e.account_id ?? null,
    project_id: e.project_id ?? null,
    user_id: e.user_id ?? null,
    api_key_id: e.api_key_id ?? null,
    model: e.model,
    service_tier: tier,
    batch,
    ...(e.context_tier == null ? {} : { context_tier: e.context_tier }),
    ...(geo == null ? {} : { inference_geo: geo }),
    endpoint: e.endpoint ?? null,
    request_type: e.request_type ?? null,
    session_id: e.session_id ?? null,
    employee_id: e.employee_id ?? null,
    agent_id: e.agent_id ?? null,
    labels: e.labels ?? {},
    metadata: e.metadata ?? null,
    reported_cost: cost,
    reasoning_tokens: c.reasoning,
    tokens: derived.value,
    ...(resources.length ? { resources } : {}),
  }
  return { ok: true, event, ...contentHashes(event) }
}

/**
 * PostgreSQL text and jsonb cannot hold NUL, and a lone UTF-16 surrogate would be stored as U+FFFD
 * (`unstorableText`); finding them here keeps one bad item from failing the batch. JSON nested deeper
 * than MAX_JSON_DEPTH is named here too, before anything walks it recursively. Fields the schema
 * already reported (its texts refuse both themselves) are not named twice.
 */
function nulProblems(item: Record<string, unknown>, errors: FieldProblem[]): void {
  const reported = new Set(errors.map((e) => e.path.split('.')[0]))
  for (const [key, value] of Object.entries(item)) {
    const problem = reported.has(key) ? undefined : unstorable(value)
    if (problem) errors.push({ path: key, message: problem })
  }
}

function unstorable(value: unknown, depth = 0): string | undefined {
  if (typeof value === 'string') return unstorableText(value)
  // Deeper is refused before any recursive walk (this one, JSON.stringify, the content hash) can overflow.
  if (typeof value === 'object' && value !== null && depth >= MAX_JSON_DEPTH) return TOO_DEEP
  if (Array.isArray(value)) {
    for (const v of value) {
      const p = unstorable(v, depth + 1)
      if (p) return p
    }
  } else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      const p = unstorableText(k) ?? unstorable(v, depth + 1)
      if (p) return p
    }
  }
  return undefined
}

/** Whether a parsed JSON value holds ±Infinity anywhere (its depth is bounded by nulProblems first). */
function hasNonFinite(value: unknown): boolean {
  if (typeof value === 'number') return !Number.isFinite(value)
  if (typeof value !== 'object' || value === null) return false
  return (Array.isArray(value) ? value : Object.values(value)).some(hasNonFinite)
}

/** JSON with object keys sorted at every depth: the same content always gives the same text. */
export function canonicalJson(value: unknown): string {
  if (value instanceof Date) return JSON.stringify(value.toISOString())
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (typeof value === 'object' && value !== null) {
    // One string built in place (no filtered and mapped copies of the keys): the text is the same.
    const o = value as Record<string, unknown>
    let out = ''
    for (const k of Object.keys(o).sort()) {
      const v = o[k]
      if (v !== undefined) out += `${out === '' ? '' : ','}${JSON.stringify(k)}:${canonicalJson(v)}`
    }
    return `{${out}}`
  }
  return JSON.stringify(value)
}

/** Each event's metadata text, serialised once: measured, hashed and stored from the one text. */
const metadataTexts = new WeakMap<Record<string, unknown>, string>()

/**
 * An event's `metadata` as JSON text, keys sorted (canonicalJson): what its size limit measures (the same
 * bytes as JSON.stringify's, in another key order), what its content hash holds, and what is stored —
 * jsonb keeps no key order, so the stored value is the same. It was serialised three times (size, hash,
 * column): ~10 % of the CPU of an event with 1.7 KiB of metadata before the database (bench/event-metadata.ts).
 */
export function metadataJson(metadata: Record<string, unknown>): string {
  let text = metadataTexts.get(metadata)
  if (text === undefined) metadataTexts.set(metadata, (text = canonicalJson(metadata)))
  return text
}

/** `,"key":value` for one scalar member of the event, nothing when undefined (as canonicalJson omits it). */
function member(quotedKey: string, value: string | number | boolean | null | undefined): string {
  return value === undefined ? '' : `,${quotedKey}:${JSON.stringify(value)}`
}

function objectMember(quotedKey: string, value: unknown): string {
  return value === undefined ? '' : `,${quotedKey}:${canonicalJson(value)}`
}

/**
 * canonicalJson(event), byte for byte, with the event's own members written in their sorted order
 * (the order `Object.keys(…).sort()` gives) instead of sorting them per event; the objects inside
 * (labels, metadata, resources, tokens) go through canonicalJson. Stored hashes decide idempotency,
 * so the text must never change: test/ingest/events/content-hash.test.ts compares the two.
 */
function canonicalEventJson(e: NormalizedEvent): string {
  const text =
    member('"account_id"', e.account_id) +
    member('"agent_id"', e.agent_id) +
    member('"api_key_id"', e.api_key_id) +
    member('"batch"', e.batch) +
    member('"context_tier"', e.context_tier) +
    member('"employee_id"', e.employee_id) +
    member('"endpoint"', e.endpoint) +
    member('"id"', e.id) +
    member('"inference_geo"', e.inference_geo) +
    objectMember('"labels"', e.labels) +
    (e.metadata == null ? member('"metadata"', e.metadata) : `,"metadata":${metadataJson(e.metadata)}`) +
    member('"model"', e.model) +
    member('"project_id"', e.project_id) +
    member('"provider"', e.provider) +
    member('"reasoning_tokens"', e.reasoning_tokens) +
    member('"reported_cost"', e.reported_cost) +
    member('"request_type"', e.request_type) +
    objectMember('"resources"', e.resources) +
    member('"service_tier"', e.service_tier) +
    member('"session_id"', e.session_id) +
    objectMember('"timestamp"', e.timestamp) +
    objectMember('"tokens"', e.tokens) +
    member('"user_id"', e.user_id)
  return `{${text.slice(1)}}`
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex')

/**
 * An event's resources are a set (a multiset: equal ones may repeat, and are summed), not a sequence —
 * the same resources in another order are the same usage. Their one order for the hash: by each one's
 * canonical JSON text. The event keeps them as sent (its listing shows that order).
 */
function inCanonicalOrder(resources: readonly EventResource[]): EventResource[] {
  return resources
    .map((r) => ({ r, text: canonicalJson(r) }))
    .sort((a, b) => (a.text < b.text ? -1 : a.text > b.text ? 1 : 0))
    .map(({ r }) => r)
}

/**
 * SHA-256 of the event's canonical JSON, its resources in canonical order: what a repeated id is compared
 * by. An event retried with its resources reordered hashes the same (it was a conflicting retry, rejected).
 */
export function contentHash(event: NormalizedEvent): string {
  return contentHashes(event).hash
}

/**
 * contentHash, and where the resources came in another order than the canonical one, `sentOrderHash`:
 * SHA-256 of the event's canonical JSON with its resources in the order sent — the content hash of every
 * event stored before resources were hashed in canonical order. Such an event stored before keeps its
 * hash, and its retry in the order first sent must still be a duplicate (in another order it is still
 * rejected: the stored hash fixed that order). Every other event is serialised and hashed once.
 */
function contentHashes(event: NormalizedEvent): { hash: string; sentOrderHash?: string } {
  const sent = event.resources
  // A stable sort: equal resources keep their places, so `reordered` means a real change of order.
  const canonical = sent && sent.length > 1 ? inCanonicalOrder(sent) : undefined
  const reordered = canonical?.some((r, i) => r !== sent![i]) === true
  const hash = sha256(canonicalEventJson(reordered ? { ...event, resources: canonical! } : event))
  return reordered ? { hash, sentOrderHash: sha256(canonicalEventJson(event)) } : { hash }
}
