import {
  assembleBucket,
  assembleDims,
  describeBucket,
  naturalKey,
  parseUsageType,
  readCounters,
  RowProblems,
  type NormalisedBucket,
} from './bucket.js'
import { ProblemList } from '../errors.js'
import {
  describeResource,
  parseAttributes,
  parseQuantity,
  parseReportedCost,
  parseRequests,
  parseResourceName,
  resourceKey,
  type IndexedResource,
} from './resource.js'
import { COUNTER_FIELDS, type CounterField } from './token-classes.js'
import { eachRow } from './turns.js'
import { parseJsonBatch, parseJsonCounter, parseJsonDimension, parseProviderId, parseTime } from './values.js'

/** What a JSON form yields: the normalised rows in request order, or every problem found. */
export interface ParsedJsonRows {
  received: number
  skipped: number
  rows: { index: number; bucket: NormalisedBucket }[]
  /** Resource rows (`index` as for buckets: the position in the request's array of them or of results). */
  resources: IndexedResource[]
  problems: ProblemList
  /**
   * True when no two rows, and no two resources, share a natural key, so there is nothing to sum: the
   * canonical form refuses a repeated key, while usage pages may split one key over several results.
   */
  distinctKeys?: true
}

/** The members a canonical bucket and a canonical resource row share: their time span and dimensions. */
const ROW_FIELDS = [
  'start_time',
  'end_time',
  'model',
  'provider',
  'account_id',
  'project_id',
  'user_id',
  'api_key_id',
  'service_tier',
  'batch',
  'context_tier',
  'inference_geo',
] as const

const KNOWN_FIELDS = new Set<string>([...ROW_FIELDS, 'usage_type', ...COUNTER_FIELDS])

const RESOURCE_FIELDS = new Set<string>([...ROW_FIELDS, 'resource', 'quantity', 'attributes', 'num_model_requests', 'reported_cost'])

function parseProvider(item: Record<string, unknown>, p: RowProblems, path = 'provider'): string {
  return p.take(parseProviderId(item.provider), path, null) ?? 'openai'
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/**
 * The canonical form: `buckets` and `resources` are its only members. Another one (a misspelled
 * `resource`, a usage page's `data` beside them) is named: ignored, it answered 200 having stored only
 * part of what was sent.
 */
export async function parseCanonical(body: { buckets?: unknown; resources?: unknown }): Promise<ParsedJsonRows> {
  const parsed = await parseCanonicalRows(body)
  const others = Object.keys(body).filter((k) => k !== 'buckets' && k !== 'resources')
  if (!others.length) return parsed
  const problems = new ProblemList()
  for (const k of others)
    problems.push({ path: k, message: `"${k}" is not a member of {"buckets":[…], "resources":[…]}${k === 'data' ? ' (post a usage page on its own)' : ''}` })
  return { ...parsed, problems: ProblemList.of(problems, parsed.problems) }
}

/**
 * Form 1, `{"buckets":[Bucket, …]}`: our own format, so it is strict — unknown fields are errors (a
 * typo such as `input_token` would otherwise lose data silently), `model` is required, and a natural
 * key repeated within the request is an error rather than summed.
 */
async function parseCanonicalRows(body: { buckets?: unknown; resources?: unknown }): Promise<ParsedJsonRows> {
  const resources = await parseCanonicalResources(body.resources)
  if (body.buckets === undefined) return { received: resources.received, skipped: 0, rows: [], resources: resources.rows, problems: resources.problems, distinctKeys: true }
  const problems = new ProblemList()
  if (!Array.isArray(body.buckets)) {
    problems.push({ path: 'buckets', message: 'buckets must be an array' })
    return { received: 0, skipped: 0, rows: [], resources: [], problems: ProblemList.of(problems, resources.problems), distinctKeys: true }
  }
  const rows: ParsedJsonRows['rows'] = []
  const seen = new Map<string, number>()
  const visit = (item: unknown, index: number): void => {
    const p = new RowProblems({ index })
    if (!isObject(item)) {
      p.add('', 'a bucket must be an object')
      problems.append(p)
      return
    }
    for (const k of Object.keys(item)) if (!KNOWN_FIELDS.has(k)) p.add(k, `unknown field "${k}"`)
    const model = p.take(parseJsonDimension(item.model), 'model', null)
    if (item.model === undefined || item.model === null) p.add('model', 'model is required')
    const provider = parseProvider(item, p)
    const tier = p.take(parseJsonDimension(item.service_tier), 'service_tier', null)
    const bucket = assembleBucket(
      {
        startMs: p.take<number | undefined>(parseTime(item.start_time), 'start_time', undefined),
        endMs: p.take<number | undefined>(parseTime(item.end_time), 'end_time', undefined),
        provider,
        accountId: p.take(parseJsonDimension(item.account_id), 'account_id', null),
        projectId: p.take(parseJsonDimension(item.project_id), 'project_id', null),
        userId: p.take(parseJsonDimension(item.user_id), 'user_id', null),
        apiKeyId: p.take(parseJsonDimension(item.api_key_id), 'api_key_id', null),
        model,
        serviceTier: tier,
        batch: p.take(parseJsonBatch(item.batch), 'batch', null),
        contextTier: p.take(parseJsonDimension(item.context_tier), 'context_tier', null),
        inferenceGeo: p.take(parseJsonDimension(item.inference_geo), 'inference_geo', null),
        usageType: p.take(parseUsageType(item.usage_type), 'usage_type', 'completions'),
        counters: readCounters((f: CounterField) => item[f], parseJsonCounter, p),
      },
      p,
    )
    problems.append(p)
    if (!bucket) return
    const key = naturalKey(bucket)
    const first = seen.get(key)
    if (first !== undefined) {
      problems.push({
        index,
        path: '',
        message: `repeats the natural key of bucket ${first} (${describeBucket(bucket)}); send each bucket once`,
      })
      return
    }
    seen.set(key, index)
    rows.push({ index, bucket })
  }
  await eachRow(body.buckets, visit)
  return {
    received: body.buckets.length + resources.received,
    skipped: 0,
    rows,
    resources: resources.rows,
    problems: ProblemList.of(problems, resources.problems),
    distinctKeys: true,
  }
}

/**
 * `{"resources":[…]}` (beside or instead of `buckets`): strict like buckets. Problems carry the
 * row's index in `resources` and a path starting with `resources.`.
 */
async function parseCanonicalResources(list: unknown): Promise<{ received: number; rows: IndexedResource[]; problems: ProblemList }> {
  const problems = new ProblemList()
  if (list === undefined) return { received: 0, rows: [], problems }
  if (!Array.isArray(list)) {
    problems.push({ path: 'resources', message: 'resources must be an array' })
    return { received: 0, rows: [], problems }
  }
  const rows: IndexedResource[] = []
  const seen = new Map<string, number>()
  const visit = (item: unknown, index: number): void => {
    const p = new RowProblems({ index })
    const at = (field: string) => `resources.${field}`
    if (!isObject(item)) {
      p.add('resources', 'a resource must be an object')
      problems.append(p)
      return
    }
    for (const k of Object.keys(item)) if (!RESOURCE_FIELDS.has(k)) p.add(at(k), `unknown field "${k}"`)
    const dims = assembleDims(
      {
        startMs: p.take<number | undefined>(parseTime(item.start_time), at('start_time'), undefined),
        endMs: p.take<number | undefined>(parseTime(item.end_time), at('end_time'), undefined),
        provider: parseProvider(item, p, at('provider')),
        accountId: p.take(parseJsonDimension(item.account_id), at('account_id'), null),
        projectId: p.take(parseJsonDimension(item.project_id), at('project_id'), null),
        userId: p.take(parseJsonDimension(item.user_id), at('user_id'), null),
        apiKeyId: p.take(parseJsonDimension(item.api_key_id), at('api_key_id'), null),
        model: p.take(parseJsonDimension(item.model), at('model'), null),
        serviceTier: p.take(parseJsonDimension(item.service_tier), at('service_tier'), null),
        batch: p.take(parseJsonBatch(item.batch), at('batch'), null),
        contextTier: p.take(parseJsonDimension(item.context_tier), at('context_tier'), null),
        inferenceGeo: p.take(parseJsonDimension(item.inference_geo), at('inference_geo'), null),
      },
      p,
    )
    const resource = p.take(parseResourceName(item.resource), at('resource'), '')
    const quantity = p.take(parseQuantity(item.quantity), at('quantity'), '0')
    const attributes = p.take(parseAttributes(item.attributes), at('attributes'), {})
    const requests = p.take(parseRequests(item.num_model_requests), at('num_model_requests'), null)
    const reportedCost = p.take(parseReportedCost(item.reported_cost), at('reported_cost'), null)
    problems.append(p)
    if (!dims || p.length > 0) return
    // Completes the fresh dims, never a spread with more properties: see assembleBucket.
    const row = Object.assign(dims, { resource, quantity, attributes, requests, reportedCost })
    const key = resourceKey(row)
    const first = seen.get(key)
    if (first !== undefined) {
      problems.push({ index, path: 'resources', message: `repeats the natural key of resource ${first} (${describeResource(row)}); send each resource once` })
      return
    }
    seen.set(key, index)
    rows.push({ index, resource: row })
  }
  await eachRow(list, visit)
  return { received: list.length, rows, problems }
}
