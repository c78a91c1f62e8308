import { ProblemList } from '../errors.js'
import { RowProblems } from './bucket.js'
import { parseTime } from './values.js'
import { Turns } from './turns.js'

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** Where a provider's page buckets keep their times: OpenAI `start_time`/`end_time`, Anthropic `starting_at`/`ending_at`. */
export interface PageTimes {
  start: string
  end: string
}

/** One result of a page bucket, as the walker hands it to the provider's mapper. */
export interface PageResult {
  result: Record<string, unknown>
  /** The result's position across all pages' results, in page order (the `index` of its problems). */
  index: number
  /** The bucket's times; undefined when unreadable (the bucket's problem is already recorded). */
  startMs: number | undefined
  endMs: number | undefined
  /** Problems of this result; the walker records them after `visit` returns. */
  problems: RowProblems
}

/**
 * The one rule for provider usage pages (OpenAI usage endpoints, Anthropic usage reports): a body is a
 * page or an array of pages; a page has a `data` array of time buckets; a bucket has its two times and a
 * `results` array; results are numbered across pages in page order. A bucket that appears twice (same
 * times, and results of a kind it already had: `kindsOf`) is the same page posted twice → a problem of its
 * first result; an empty bucket holds nothing to count twice, and its problems carry no index. Kinds are
 * compared one by one, not as a set: a completions bucket and the same bucket again with an embeddings
 * result beside it had two different sets, and the completions were summed, counted twice.
 * `visit` maps each object result; a result that is not an object is a problem here.
 */
export async function walkUsagePages(
  body: unknown,
  times: PageTimes,
  visit: (r: PageResult) => void,
  kindsOf: (results: unknown[]) => readonly string[] = () => [''],
): Promise<{ received: number; problems: ProblemList }> {
  const turns = new Turns()
  const pages = Array.isArray(body) ? body : [body]
  const problems = new ProblemList()
  const bucketsSeen = new Map<string, { path: string; index: number }>()
  let index = 0
  for (const [pageNo, page] of (pages as unknown[]).entries()) {
    const pagePath = Array.isArray(body) ? `${pageNo}.data` : 'data'
    const data = isObject(page) ? page.data : undefined
    if (!Array.isArray(data)) {
      problems.push({ path: pagePath, message: 'a page must have a data array' })
      continue
    }
    for (const [bucketNo, bucket] of (data as unknown[]).entries()) {
      const bucketPath = `${pagePath}.${bucketNo}`
      if (!isObject(bucket) || !Array.isArray(bucket.results)) {
        problems.push({ path: bucketPath, message: 'a bucket must be an object with a results array' })
        continue
      }
      const results = bucket.results as unknown[]
      const bp = new RowProblems({ index })
      const startMs = bp.take<number | undefined>(parseTime(bucket[times.start]), `${bucketPath}.${times.start}`, undefined)
      const endMs = bp.take<number | undefined>(parseTime(bucket[times.end]), `${bucketPath}.${times.end}`, undefined)
      const timeKey = `${String(bucket[times.start])}/${String(bucket[times.end])}`
      const firstIndex = results.length > 0 ? index : undefined
      if (firstIndex !== undefined) {
        // The instants, not their text: 1759276800 and "2025-10-01T00:00:00Z" are the same bucket.
        const instants = startMs === undefined || endMs === undefined ? timeKey : `${startMs}-${endMs}`
        const seenKeys = kindsOf(results).map((kind) => `${instants} ${kind}`)
        const earlier = seenKeys.map((k) => bucketsSeen.get(k)).find((e) => e !== undefined)
        if (earlier) bp.add(bucketPath, `bucket ${timeKey} appears twice: first at ${earlier.path} (index ${earlier.index}), again here (index ${firstIndex})`)
        else for (const k of seenKeys) bucketsSeen.set(k, { path: bucketPath, index: firstIndex })
      }
      // Bucket-level problems belong to its first result (or to no index if it has none).
      for (const item of bp.items) problems.push(firstIndex === undefined ? { path: item.path, message: item.message } : item)

      for (const result of results) {
        const p = new RowProblems({ index })
        if (isObject(result)) visit({ result, index, startMs, endMs, problems: p })
        else p.add('', 'a result must be an object')
        problems.append(p)
        index++
        if (turns.due()) await turns.take()
      }
    }
  }
  return { received: index, problems }
}
