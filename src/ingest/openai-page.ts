import { assembleBucket, readCounters, RowProblems, type RowDefaults, type RowProblem } from './bucket.js'
import type { ParsedJsonRows } from './canonical.js'
import type { CounterField } from './token-classes.js'
import { parseJsonBatch, parseJsonCounter, parseJsonDimension, parseTime } from './values.js'

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** A page is any object with a `data` array (`object` optional, as the contract's clarification says). */
export function isOpenAIPageBody(body: unknown): boolean {
  if (Array.isArray(body)) return body.length > 0 && body.every((p) => isObject(p) && Array.isArray(p.data))
  return isObject(body) && Array.isArray(body.data)
}

// Embeddings and moderations report tokens too, but input only; every other usage type counts
// images, characters, seconds or calls, which are not tokens and must not be stored as such.
const INPUT_ONLY_COUNTERS: readonly CounterField[] = ['num_model_requests', 'input_tokens']

function usageType(object: unknown): 'completions' | 'input-only' | 'unsupported' {
  if (object === undefined || object === null) return 'completions'
  if (typeof object !== 'string') return 'unsupported'
  if (object.endsWith('completions.result')) return 'completions'
  if (object.endsWith('embeddings.result') || object.endsWith('moderations.result')) return 'input-only'
  return 'unsupported'
}

/**
 * Form 2: OpenAI usage pages (`GET /v1/organization/usage/completions`), one or an array. `index` counts
 * results across pages in page order. Rows sharing a natural key are summed later, in SQL; a bucket
 * (start, end) that appears twice — typically the same page posted twice — is an error.
 */
export function parseOpenAIPages(body: unknown, defaults: RowDefaults): ParsedJsonRows {
  const pages = Array.isArray(body) ? body : [body]
  const rows: ParsedJsonRows['rows'] = []
  const problems: RowProblem[] = []
  const bucketsSeen = new Map<string, { path: string; index: number | undefined }>()
  let index = 0
  pages.forEach((page: unknown, pageNo) => {
    const pagePath = Array.isArray(body) ? `${pageNo}.data` : 'data'
    const data = isObject(page) ? page.data : undefined
    if (!Array.isArray(data)) {
      problems.push({ path: pagePath, message: 'a page must have a data array' })
      return
    }
    data.forEach((bucket: unknown, bucketNo) => {
      const bucketPath = `${pagePath}.${bucketNo}`
      if (!isObject(bucket) || !Array.isArray(bucket.results)) {
        problems.push({ path: bucketPath, message: 'a bucket must be an object with a results array' })
        return
      }
      const bp = new RowProblems({ index })
      const startMs = bp.take<number | undefined>(parseTime(bucket.start_time), `${bucketPath}.start_time`, undefined)
      const endMs = bp.take<number | undefined>(parseTime(bucket.end_time), `${bucketPath}.end_time`, undefined)
      const timeKey = `${String(bucket.start_time)}/${String(bucket.end_time)}`
      const firstIndex = bucket.results.length > 0 ? index : undefined
      const earlier = bucketsSeen.get(timeKey)
      if (earlier) {
        bp.add(
          bucketPath,
          `bucket ${timeKey} appears twice: first at ${earlier.path}` +
            (earlier.index !== undefined ? ` (index ${earlier.index})` : '') +
            (firstIndex !== undefined ? `, again here (index ${firstIndex})` : ''),
        )
      } else bucketsSeen.set(timeKey, { path: bucketPath, index: firstIndex })
      // Bucket-level problems belong to its first result (or to no index if it has none).
      for (const item of bp.items) problems.push(firstIndex === undefined ? { path: item.path, message: item.message } : item)

      for (const result of bucket.results as unknown[]) {
        const p = new RowProblems({ index })
        index++
        if (!isObject(result)) {
          p.add('', 'a result must be an object')
          problems.push(...p.items)
          continue
        }
        const type = usageType(result.object)
        if (type === 'unsupported') {
          p.add('object', `unsupported usage type ${JSON.stringify(result.object)}: only completions, embeddings and moderations report tokens`)
          problems.push(...p.items)
          continue
        }
        const own = (field: 'provider' | 'account_id', fallback: string | undefined) =>
          p.take(parseJsonDimension(result[field]), field, null) ?? fallback ?? null
        const normalised = assembleBucket(
          {
            startMs,
            endMs,
            provider: own('provider', defaults.provider) ?? 'openai',
            accountId: own('account_id', defaults.accountId),
            projectId: p.take(parseJsonDimension(result.project_id), 'project_id', null),
            userId: p.take(parseJsonDimension(result.user_id), 'user_id', null),
            apiKeyId: p.take(parseJsonDimension(result.api_key_id), 'api_key_id', null),
            model: p.take(parseJsonDimension(result.model), 'model', null),
            serviceTier: p.take(parseJsonDimension(result.service_tier), 'service_tier', null),
            batch: p.take(parseJsonBatch(result.batch), 'batch', null),
            counters: readCounters(
              (f: CounterField) => result[f],
              parseJsonCounter,
              p,
              type === 'input-only' ? INPUT_ONLY_COUNTERS : undefined,
            ),
          },
          p,
        )
        problems.push(...p.items)
        // A result of a bucket with a bad time is rejected through the bucket's own problem.
        if (normalised) rows.push({ index: index - 1, bucket: normalised })
      }
    })
  })
  return { received: index, skipped: 0, rows, problems }
}
