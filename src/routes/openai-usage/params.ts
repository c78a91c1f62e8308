import type { FastifyRequest } from 'fastify'
import { z } from 'zod'
import { InstantParamSchema } from '../../time/instant-schema.js'
import { dimensionText } from '../../ingest/text-schema.js'
import { ALL_SOURCES, MAX_FILTER_VALUES } from '../../usage/dimensions.js'
import { countParam } from '../shared-schemas.js'
import type { ProblemItem } from '../../errors.js'
import { holdProblems } from '../../plugins/errors.js'

/**
 * Query parameters of the OpenAI-compatible reports, in OpenAI's names and with OpenAI's defaults
 * and limits, plus tokenledger's extras (`rate_card`, `pricing_as_of`, `sources`).
 */

/** OpenAI's completions group_by, then tokenledger's extensions (dimensions OpenAI does not report). */
const USAGE_GROUP_BY = ['project_id', 'user_id', 'api_key_id', 'model', 'batch', 'service_tier', 'context_tier', 'inference_geo'] as const
const COSTS_GROUP_BY = ['project_id', 'line_item', 'api_key_id'] as const
/** What OpenAI's embeddings, moderations and audio endpoints group by. */
export const TOKEN_GROUP_BY = ['project_id', 'user_id', 'api_key_id', 'model'] as const

/**
 * The parameters that take a list (the mirrors' and GET /v1/reconciliation's); each accepts `a=1&a=2`,
 * `a[]=1`, `a[0]=1` and `a=1,2`.
 */
const ARRAY_PARAMS = [
  'group_by', 'project_ids', 'user_ids', 'api_key_ids', 'models', 'sources', 'sizes', 'vector_store_ids', 'context_levels',
  'context_tiers', 'inference_geos', 'providers', 'account_ids', 'service_tiers', 'modalities', 'usage_types', 'resources',
  'endpoints', 'request_types', 'session_ids', 'employee_ids', 'agent_ids',
] as const

/**
 * preValidation hook: folds every array form clients send into one array per parameter, so the
 * schema sees `group_by: ['model', 'project_id']` whichever way it was written. (Fastify's
 * querystring parser is a server-wide option; doing it here keeps the change inside this plugin.)
 * Only the plain form is split at commas (and trimmed): a bracketed value is one element exactly as the
 * client listed it (the official SDK sends `project_ids[]=a%2Cb` for the id "a,b", which was split into
 * "a" and "b" and answered for other projects; `project_ids[]=%20p1` for the id " p1").
 */
export async function normaliseArrayParams(req: FastifyRequest): Promise<void> {
  const query = req.query as Record<string, unknown>
  const out: Record<string, unknown> = {}
  const malformed: ProblemItem[] = []
  for (const [rawKey, value] of Object.entries(query)) {
    const key = rawKey.replace(/\[\d*\]$/, '')
    // A list parameter in a bracket form none of these is (`project_ids[-1]=`, `project_ids[a]=`) was taken for
    // an unknown parameter, which the mirrors ignore as OpenAI does: the filter went with it, and the
    // request answered for every project. It is meant as that parameter, so it is refused, not ignored.
    const listed = /^([a-z_]+)\[/.exec(key)?.[1]
    if (listed && (ARRAY_PARAMS as readonly string[]).includes(listed)) {
      malformed.push({ path: `querystring.${rawKey}`, message: `is not a form of ${listed}; write ${listed}=a&${listed}=b, ${listed}[]=a, ${listed}[0]=a or ${listed}=a,b` })
      continue
    }
    const values = Array.isArray(value) ? value.map(String) : [String(value)]
    if ((ARRAY_PARAMS as readonly string[]).includes(key)) {
      const prev = (out[key] as string[] | undefined) ?? []
      // The plain form is a list typed by hand (`group_by=model, project_id`): split, trimmed, empty pieces
      // dropped (plainList). A bracketed value is exact: ids are stored as sent, and trimming `project_ids[]=%20p1`
      // answered for "p1", while a blank one (`%09`) was dropped and the filter with it — every project.
      const listed = key === rawKey ? values.flatMap(plainList(key)) : values
      out[key] = [...prev, ...listed]
    } else if (key in out) {
      // A scalar given twice stays a list, so validation names it instead of silently picking one.
      out[key] = [...[out[key]].flat(), ...values]
    } else out[key] = value
  }
  // Named with whatever else validation finds in the same query (src/plugins/errors.ts).
  if (malformed.length) holdProblems(req, malformed)
  req.query = out
}

/**
 * One plain value's pieces. A value with no piece at all (`project_ids=`, `project_ids=,`, `%09`) stays one
 * blank element, which every list's element schema refuses, naming the parameter as for `project_ids[]=`:
 * dropped, it took the filter with it and answered for every project. `group_by=` is "no grouping", the
 * default (and "none declared" on the write routes), so a blank there narrows nothing and is still dropped.
 */
const plainList = (key: string) => (value: string): string[] => {
  const pieces = value.split(',').map((v) => v.trim()).filter((v) => v !== '')
  return pieces.length > 0 || key === 'group_by' ? pieces : ['']
}

// OpenAI's clients send unix seconds; RFC 3339 is accepted too, as at every entry point (one parser).
// A fraction of a second is dropped: buckets are whole seconds.
const unixSeconds = InstantParamSchema.transform((d) => Math.floor(d.getTime() / 1000))
// Any value a dimension can be stored with (up to 256 characters) can be filtered for: at 200, longer
// stored ids were a 400.
export const idList = (what: string) =>
  z.array(dimensionText()).max(MAX_FILTER_VALUES).optional().describe(`Only these ${what}; repeated, \`[]\`, \`[0]\` or comma-separated`)
const instant = InstantParamSchema

export const bucketWidth = z.enum(['1m', '1h', '1d']).default('1d').describe('Bucket width: 1m, 1h or 1d (UTC-aligned)')
export const usageLimit = countParam(z.coerce.number().int().min(1))
  .optional()
  .describe('Buckets per page: 1d default 7, max 31; 1h default 24, max 168; 1m default 60, max 1440')
const groupBy = <T extends readonly [string, ...string[]]>(names: T) =>
  z.array(z.enum(names)).optional().describe('Group results by these fields; others are null')

export const common = {
  start_time: unixSeconds.describe('Start of the range (unix seconds or RFC 3339), inclusive; the first bucket starts here'),
  end_time: unixSeconds
    .optional()
    .describe('End of the range (unix seconds or RFC 3339), exclusive; default: the end of the bucket that contains now'),
  page: z.string().max(500).optional().describe('The `next_page` cursor of the previous page'),
  rate_card: z.string().min(1).max(200).default('default').describe('Rate card to price with (tokenledger extension)'),
  pricing_as_of: instant
    .optional()
    .describe('Price as the rate card stood at this instant (unix seconds or RFC 3339), to reproduce an invoice'),
  sources: z
    .array(z.enum(ALL_SOURCES))
    .optional()
    .describe('Which usage sources to count; default every source except `events`. The page lists what was counted'),
}

/** The filters every usage endpoint of OpenAI's takes. */
const usageFilters = {
  project_ids: idList('project ids'),
  user_ids: idList('user ids'),
  api_key_ids: idList('API key ids'),
  models: idList('models'),
}

export const UsageQuerySchema = z.object({
  ...common,
  bucket_width: bucketWidth,
  group_by: groupBy(USAGE_GROUP_BY),
  ...usageFilters,
  batch: z
    .enum(['true', 'false'])
    .transform((v) => v === 'true')
    .optional()
    .describe('Only batch (true) or only non-batch (false) usage'),
  context_tiers: idList('context-length tiers (e.g. `200k-1M`; tokenledger extension)'),
  inference_geos: idList('inference geographies (e.g. `us`; tokenledger extension)'),
  limit: usageLimit,
})
export type UsageQuery = z.infer<typeof UsageQuerySchema>

/** Embeddings and moderations (and the audio endpoints): OpenAI's parameters for them. */
export const TokenUsageQuerySchema = z.object({
  ...common,
  bucket_width: bucketWidth,
  group_by: groupBy(TOKEN_GROUP_BY),
  ...usageFilters,
  limit: usageLimit,
})
export type TokenUsageQuery = z.infer<typeof TokenUsageQuerySchema>

export const CostsQuerySchema = z.object({
  ...common,
  bucket_width: z.enum(['1d']).default('1d').describe('Only 1d is supported, as by OpenAI'),
  group_by: z.array(z.enum(COSTS_GROUP_BY)).optional().describe('Group results by these fields; others are null'),
  project_ids: idList('project ids'),
  api_key_ids: idList('API key ids'),
  limit: countParam(z.coerce.number().int().min(1)).optional().describe('Buckets (days) per page: default 7, max 180'),
  cost_source: z
    .enum(['computed', 'billed'])
    .default('computed')
    .describe('computed: the ledger’s cost of the usage at the rate card; billed: what the provider billed (POST /v1/billing/costs)'),
})
export type CostsQuery = z.infer<typeof CostsQuerySchema>
