import { assembleBucket, assembleDims, readCounters, type DimFields, type RowDefaults, type UsageType } from './bucket.js'
import type { ParsedJsonRows } from './canonical.js'
import { parseAttributes, type IndexedResource } from './resource.js'
import type { CounterField } from './token-classes.js'
import { walkUsagePages } from './usage-pages.js'
import { parseJsonBatch, parseJsonCounter, parseJsonDimension, parseProviderId } from './values.js'
import { ownValue } from '../own-key.js'

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** A page is any object with a `data` array (`object` optional, as the contract's clarification says). */
export function isOpenAIPageBody(body: unknown): boolean {
  if (Array.isArray(body)) return body.length > 0 && body.every((p) => isObject(p) && Array.isArray(p.data))
  return isObject(body) && Array.isArray(body.data)
}

/** The `object` of an OpenAI costs result (`GET /v1/organization/costs`): billed money, not usage. */
export const OPENAI_COSTS_RESULT = 'organization.costs.result'

/**
 * An OpenAI costs page (or pages): the usage pages' envelope, results saying `organization.costs.result`.
 * Read as usage they were refused as an unknown usage object; they belong to POST /v1/billing/costs.
 */
export function isOpenAICostsPage(body: unknown): boolean {
  if (!isOpenAIPageBody(body)) return false
  return (Array.isArray(body) ? body : [body]).some((p: { data: unknown[] }) =>
    p.data.some((b) => isObject(b) && Array.isArray(b.results) && b.results.some((r) => isObject(r) && r.object === OPENAI_COSTS_RESULT)),
  )
}

// Embeddings and moderations report tokens too, but input only.
const INPUT_ONLY_COUNTERS: readonly CounterField[] = ['num_model_requests', 'input_tokens']

/** A usage result that is not tokens: which field is its quantity, which fields are attributes. */
interface ResourceResult {
  resource: string
  quantity: string
  attributes: readonly string[]
}

type ResultKind = { tokens: UsageType } | ResourceResult

/**
 * Each usage endpoint's result `object` (contract v2 "Usage types, resources"). File search results
 * say `file_searches` in OpenAI's spec although the endpoint is `file_search_calls`; both are read.
 */
const RESULT_KINDS: Record<string, ResultKind> = {
  'organization.usage.completions.result': { tokens: 'completions' },
  'organization.usage.embeddings.result': { tokens: 'embeddings' },
  'organization.usage.moderations.result': { tokens: 'moderations' },
  'organization.usage.images.result': { resource: 'images', quantity: 'images', attributes: ['source', 'size'] },
  'organization.usage.audio_speeches.result': { resource: 'characters', quantity: 'characters', attributes: [] },
  'organization.usage.audio_transcriptions.result': { resource: 'audio_seconds', quantity: 'seconds', attributes: [] },
  'organization.usage.vector_stores.result': { resource: 'storage_bytes', quantity: 'usage_bytes', attributes: [] },
  'organization.usage.code_interpreter_sessions.result': { resource: 'code_interpreter_sessions', quantity: 'num_sessions', attributes: [] },
  'organization.usage.file_searches.result': { resource: 'file_search_calls', quantity: 'num_requests', attributes: ['vector_store_id'] },
  'organization.usage.file_search_calls.result': { resource: 'file_search_calls', quantity: 'num_requests', attributes: ['vector_store_id'] },
  'organization.usage.web_searches.result': { resource: 'web_search_calls', quantity: 'num_requests', attributes: ['context_level'] },
  'organization.usage.web_search_calls.result': { resource: 'web_search_calls', quantity: 'num_requests', attributes: ['context_level'] },
}

/** The kind of a result; a result with no `object` is a completions result (v1.1). */
function resultKind(object: unknown): ResultKind | undefined {
  if (object === undefined || object === null) return { tokens: 'completions' }
  return typeof object === 'string' ? ownValue(RESULT_KINDS, object) : undefined
}

/** The resource names the OpenAI usage endpoints report, with their attribute keys (for declared shapes). */
export const OPENAI_RESOURCE_ATTRIBUTES: Record<string, readonly string[]> = Object.fromEntries(
  Object.values(RESULT_KINDS).flatMap((k) => ('resource' in k ? [[k.resource, k.attributes]] : [])),
)

/** Every attribute key OpenAI's resource results report (what a declared `group_by` may name besides dimensions). */
export const OPENAI_ATTRIBUTE_KEYS: readonly string[] = [...new Set(Object.values(OPENAI_RESOURCE_ATTRIBUTES).flat())]

/**
 * What makes a repeated bucket the same page posted twice: pages of different usage endpoints share their
 * time buckets. The kinds the results' `object` names, not its text: a result without `object` is a
 * completions result, and file search and web search results have two names each.
 */
const resultKinds = (results: unknown[]) => [...new Set(results.map((r) => (isObject(r) ? kindName(resultKind(r.object)) ?? String(r.object) : '')))]

const kindName = (kind: ResultKind | undefined) => (kind === undefined ? undefined : 'tokens' in kind ? `tokens:${kind.tokens}` : `resource:${kind.resource}`)

const OPENAI_TIMES = { start: 'start_time', end: 'end_time' }

/**
 * Form 2: OpenAI usage pages (`GET /v1/organization/usage/completions`), one or an array. `index` counts
 * results across pages in page order. Rows sharing a natural key are summed later, in SQL; a bucket
 * (start, end) that appears twice with a result kind it already had — typically the same page posted
 * twice — is an error.
 */
export async function parseOpenAIPages(body: unknown, defaults: RowDefaults): Promise<ParsedJsonRows> {
  const rows: ParsedJsonRows['rows'] = []
  const resources: IndexedResource[] = []
  const walked = await walkUsagePages(
    body,
    OPENAI_TIMES,
    ({ result, index, startMs, endMs, problems: p }) => {
      const kind = resultKind(result.object)
      if (!kind) {
        p.add('object', `unknown usage result object ${JSON.stringify(result.object)}: expected one of ${Object.keys(RESULT_KINDS).join(', ')}`)
        return
      }
      const own = (field: 'account_id', fallback: string | undefined) =>
        p.take(parseJsonDimension(result[field]), field, null) ?? fallback ?? null
      const dims: DimFields = {
        startMs,
        endMs,
        provider: p.take(parseProviderId(result.provider), 'provider', null) ?? defaults.provider ?? 'openai',
        accountId: own('account_id', defaults.accountId),
        projectId: p.take(parseJsonDimension(result.project_id), 'project_id', null),
        userId: p.take(parseJsonDimension(result.user_id), 'user_id', null),
        apiKeyId: p.take(parseJsonDimension(result.api_key_id), 'api_key_id', null),
        model: p.take(parseJsonDimension(result.model), 'model', null),
        serviceTier: p.take(parseJsonDimension(result.service_tier), 'service_tier', null),
        batch: p.take(parseJsonBatch(result.batch), 'batch', null),
      }
      if ('resource' in kind) {
        const quantity = p.take(parseJsonCounter(result[kind.quantity]), kind.quantity, null)
        if (quantity === null && result[kind.quantity] == null) p.add(kind.quantity, `${kind.quantity} is required`)
        const requests = p.take(parseJsonCounter(result.num_model_requests), 'num_model_requests', null)
        const attributes = p.take(
          parseAttributes(Object.fromEntries(kind.attributes.map((a) => [a, result[a]])), true),
          kind.attributes.join(', '),
          {},
        )
        const d = assembleDims(dims, p)
        if (d && p.length === 0 && quantity !== null)
          resources.push({ index, resource: Object.assign(d, { resource: kind.resource, quantity: String(quantity), attributes, requests, reportedCost: null }) })
        return
      }
      const normalised = assembleBucket(
        {
          ...dims,
          usageType: kind.tokens,
          counters: readCounters(
            (f: CounterField) => result[f],
            parseJsonCounter,
            p,
            kind.tokens === 'completions' ? undefined : INPUT_ONLY_COUNTERS,
          ),
        },
        p,
      )
      // A result of a bucket with a bad time is rejected through the bucket's own problem.
      if (normalised) rows.push({ index, bucket: normalised })
    },
    resultKinds,
  )
  return { received: walked.received, skipped: 0, rows, resources, problems: walked.problems }
}
