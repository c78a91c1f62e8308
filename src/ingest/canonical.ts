import {
  assembleBucket,
  describeBucket,
  naturalKey,
  readCounters,
  RowProblems,
  type NormalisedBucket,
  type RowProblem,
} from './bucket.js'
import { COUNTER_FIELDS, type CounterField } from './token-classes.js'
import { parseJsonBatch, parseJsonCounter, parseJsonDimension, parseTime } from './values.js'

/** What a JSON form yields: the normalised rows in request order, or every problem found. */
export interface ParsedJsonRows {
  received: number
  skipped: number
  rows: { index: number; bucket: NormalisedBucket }[]
  problems: RowProblem[]
}

const KNOWN_FIELDS = new Set<string>([
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
  ...COUNTER_FIELDS,
])

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/**
 * Form 1, `{"buckets":[Bucket, …]}`: our own format, so it is strict — unknown fields are errors (a
 * typo such as `input_token` would otherwise lose data silently), `model` is required, and a natural
 * key repeated within the request is an error rather than summed.
 */
export function parseCanonical(body: { buckets: unknown }): ParsedJsonRows {
  if (!Array.isArray(body.buckets))
    return { received: 0, skipped: 0, rows: [], problems: [{ path: 'buckets', message: 'buckets must be an array' }] }
  const rows: ParsedJsonRows['rows'] = []
  const problems: RowProblem[] = []
  const seen = new Map<string, number>()
  body.buckets.forEach((item: unknown, index) => {
    const p = new RowProblems({ index })
    if (!isObject(item)) {
      p.add('', 'a bucket must be an object')
      problems.push(...p.items)
      return
    }
    for (const k of Object.keys(item)) if (!KNOWN_FIELDS.has(k)) p.add(k, `unknown field "${k}"`)
    const model = p.take(parseJsonDimension(item.model), 'model', null)
    if (item.model === undefined || item.model === null) p.add('model', 'model is required')
    let provider = 'openai'
    if (item.provider !== undefined) {
      if (typeof item.provider === 'string' && item.provider.length > 0) provider = p.take(parseJsonDimension(item.provider), 'provider', null) ?? provider
      else p.add('provider', 'provider must be a non-empty string (default "openai")')
    }
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
        counters: readCounters((f: CounterField) => item[f], parseJsonCounter, p),
      },
      p,
    )
    problems.push(...p.items)
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
  })
  return { received: body.buckets.length, skipped: 0, rows, problems }
}
