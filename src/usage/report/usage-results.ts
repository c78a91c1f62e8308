import { toOpenAICounters, type CounterField } from '../../ingest/token-classes.js'
import type { UsageRow } from '../run-usage.js'
import type { BucketRows, ReportRequest } from './report.js'
import { bucketCsvLines, COST_COLUMNS, resultCells, TIME_COLUMNS } from './csv-lines.js'

/** The dimension fields of a completions result, in OpenAI's order, with the usage row field each reads. */
const DIM_FIELDS = [
  ['project_id', 'projectId'],
  ['user_id', 'userId'],
  ['api_key_id', 'apiKeyId'],
  ['model', 'model'],
  ['batch', 'batch'],
  ['service_tier', 'serviceTier'],
  // tokenledger's extensions: OpenAI reports neither, Anthropic does (context window, inference geo).
  ['context_tier', 'contextTier'],
  ['inference_geo', 'inferenceGeo'],
] as const

export interface UsageCost {
  value: number
  value_exact: string
  currency: string
  complete: boolean
  unpriced_tokens: number
}

export type CompletionsResult = { object: 'organization.usage.completions.result' } & Record<CounterField, number | null> & {
  project_id: string | null
  user_id: string | null
  api_key_id: string | null
  model: string | null
  batch: boolean | null
  service_tier: string | null
  context_tier: string | null
  inference_geo: string | null
  cost: UsageCost
}

/** The counters OpenAI would report for a row, from its per-class sums (the ingest mapping, reversed). */
function counters(row: UsageRow): Record<CounterField, number | null> {
  const c = row.classTokens!
  return toOpenAICounters({
    requests: row.requests,
    inputTokens: row.inputTokens,
    outputTokens: row.outputTokens,
    inText: c.in_text,
    inAudio: c.in_audio,
    inImage: c.in_image,
    cachedText: c.cached_text,
    cachedAudio: c.cached_audio,
    cachedImage: c.cached_image,
    cacheWrite: c.cache_write,
    cacheWrite1h: c.cache_write_1h,
    outText: c.out_text,
    outAudio: c.out_audio,
    outImage: c.out_image,
  })
}

/** A result's `cost`: a JSON number for clients typed for OpenAI; the exact decimal is value_exact. */
function usageCost(row: UsageRow, currency: string): UsageCost {
  return {
    value: Number(row.cost.total),
    value_exact: row.cost.total,
    currency,
    complete: row.cost.complete,
    unpriced_tokens: row.cost.unpricedTokens,
  }
}

/** A row's dimension fields under OpenAI's names (null when not grouped by). */
function dimensionFields<N extends string>(row: UsageRow, fields: readonly (readonly [N, string])[]): Record<N, string | boolean | null> {
  const out: Record<string, string | boolean | null> = {}
  for (const [name, field] of fields) out[name] = (row[field] as string | boolean | null | undefined) ?? null
  return out as Record<N, string | boolean | null>
}

export function completionsResult(row: UsageRow, currency: string): CompletionsResult {
  const dims = dimensionFields(row, DIM_FIELDS) as Pick<CompletionsResult, (typeof DIM_FIELDS)[number][0]>
  return { object: 'organization.usage.completions.result', ...counters(row), ...dims, cost: usageCost(row, currency) }
}

/** What the token exports (completions, embeddings, moderations) always group by, beside `group_by`. */
const EXPORT_KEY_DIMENSIONS = ['PROVIDER', 'ACCOUNT'] as const

/** A token export's request: grouped by provider and account too, which its file carries (keyCells). */
export const exportRequest = (r: ReportRequest): ReportRequest => ({ ...r, exportKeys: EXPORT_KEY_DIMENSIONS })
const KEY_COLUMNS = ['provider', 'account_id'] as const

/** A row's provider and account under the export's column names (the ingest's). */
export function keyCells(row: UsageRow): Record<(typeof KEY_COLUMNS)[number], unknown> {
  return { provider: row.provider ?? null, account_id: row.accountId ?? null }
}

/**
 * The dashboard export's columns in its order (see the sample `completions_usage_<from>_<to>.csv`), so
 * the file can be re-ingested by POST /v1/usage/buckets. Trailing extras: cache writes, 5-minute and 1-hour
 * (counters the ingest reads, absent from OpenAI's older export; without the 1-hour column a row holding
 * them did not add up and the file was refused), the context tier and inference geo (tokenledger's
 * group_by extensions, blank unless grouped by), the cost, and the row's `provider` and `account_id`: the
 * export is always grouped by both (EXPORT_KEY_DIMENSIONS), which the ingest reads back. Without them the
 * rows of every provider and account were summed into one, and an Anthropic row posted back was stored
 * as OpenAI's, under whatever ?account_id= said.
 */
export const USAGE_CSV_COLUMNS = [
  ...TIME_COLUMNS, 'project_id', 'num_model_requests', 'user_id',
  'api_key_id', 'model', 'batch', 'service_tier', 'input_tokens', 'output_tokens', 'input_cached_tokens',
  'input_uncached_tokens', 'input_text_tokens', 'output_text_tokens', 'input_cached_text_tokens', 'input_audio_tokens',
  'input_cached_audio_tokens', 'output_audio_tokens', 'input_image_tokens', 'input_cached_image_tokens',
  'output_image_tokens', 'input_cache_write_tokens', 'input_cache_write_1h_tokens', 'context_tier', 'inference_geo', ...COST_COLUMNS,
  ...KEY_COLUMNS,
] as const

/** CSV lines of one bucket (the export writes batch as TRUE/FALSE). */
export function usageCsvLines(bucket: BucketRows, currency: string): string {
  const cells = bucket.rows.map((row) => {
    const r = completionsResult(row, currency)
    return { ...resultCells(r), batch: r.batch === null ? null : r.batch ? 'TRUE' : 'FALSE', ...keyCells(row) }
  })
  return bucketCsvLines(bucket, USAGE_CSV_COLUMNS, cells)
}

/** Embeddings and moderations results (input tokens of one usage type): OpenAI's dimension fields. */
const TOKEN_DIM_FIELDS = [
  ['project_id', 'projectId'],
  ['user_id', 'userId'],
  ['api_key_id', 'apiKeyId'],
  ['model', 'model'],
] as const

/** An embeddings or moderations result (`object` names which). */
export function tokenResult(object: string, row: UsageRow, currency: string) {
  return {
    object,
    input_tokens: row.inputTokens,
    num_model_requests: row.requests,
    ...(dimensionFields(row, TOKEN_DIM_FIELDS) as Record<(typeof TOKEN_DIM_FIELDS)[number][0], string | null>),
    cost: usageCost(row, currency),
  }
}

/**
 * The CSV: the result's fields (dimensions first, as the completions export), its cost, its usage type
 * (the ingest reads it), then its provider and account (grouped by, as in the completions export).
 */
export const TOKEN_CSV_COLUMNS = [...TIME_COLUMNS, 'project_id', 'user_id', 'api_key_id', 'model', 'num_model_requests', 'input_tokens', ...COST_COLUMNS, 'usage_type', ...KEY_COLUMNS]
