import { z } from 'zod'
import { RECON_DIMENSIONS, RECON_STATUSES, RECON_WINDOWS } from '../../reconciliation/recon-types.js'
import { InstantParamSchema } from '../../time/instant-schema.js'
import { dimensionText } from '../../ingest/text-schema.js'
import { ALL_SOURCES, MAX_FILTER_VALUES, MODALITIES } from '../../usage/dimensions.js'
import { countParam, strictQuery } from '../shared-schemas.js'

/** `a=1&a=2`, `a[]=1` and `a=1,2`: normaliseArrayParams folds the forms (and splits only the plain one). */
const list = (what: string) =>
  z
    .union([z.string(), z.array(z.string())])
    .transform((v) => [v].flat())
    // Stored dimensions count characters, not UTF-16 units (256 emoji were a 400 here).
    .pipe(z.array(dimensionText()).max(MAX_FILTER_VALUES))
    .optional()
    .describe(`Only these ${what}; repeated or comma-separated`)

const lowerCase = (v: unknown) => (typeof v === 'string' ? v.toLowerCase() : v)
const lower = <T extends readonly string[]>(values: T) => values.map((v) => v.toLowerCase()) as unknown as [string, ...string[]]

export const ReconQuerySchema = strictQuery({
  from: InstantParamSchema.describe('Start of the range (unix seconds or RFC 3339), inclusive; widened to its UTC midnight, and to the start of a bill that crosses it (bills are never split)'),
  to: InstantParamSchema.describe('End of the range, exclusive; widened to the next UTC midnight when it falls inside a day, and to the end of a bill that crosses it'),
  window: z
    .preprocess(lowerCase, z.enum(lower(RECON_WINDOWS)))
    .default('day')
    .describe('day, week (Monday), month or total — UTC only (GraphQL’s upper-case names are accepted too)'),
  group_by: z
    .array(z.preprocess(lowerCase, z.enum(lower(RECON_DIMENSIONS))))
    .default(['provider'])
    .describe('provider, account, project, api_key, model, line_item (line_item implies model); repeated, `[]` or comma-separated'),
  providers: list('providers'),
  account_ids: list('accounts'),
  project_ids: list('project ids'),
  api_key_ids: list('API key ids'),
  user_ids: list('user ids (usage only)'),
  models: list('models'),
  // Billed costs carry a tier, a batch flag, a context tier and a geo too (from OpenAI's line item, from
  // Anthropic's columns), so these four filter both sides; the rest of GraphQL's UsageFilter usage only.
  service_tiers: list('service tiers (usage and billed costs: a billed cost’s tier is its line item’s or Anthropic’s service_tier)'),
  modalities: z.array(z.enum(MODALITIES)).optional().describe('Only these modalities (usage only)'),
  usage_types: list('token usage types (usage only)'),
  context_tiers: list('context tiers (usage and billed costs)'),
  inference_geos: list('inference geos (usage and billed costs)'),
  resources: list('resources, `tokens` for the token usage (usage only)'),
  batch: z.enum(['true', 'false']).transform((v) => v === 'true').optional().describe('true: batch usage and costs only; false: non-batch (both sides; a billed cost whose line item says nothing of batch is not batch)'),
  endpoints: list('application endpoints (events only)'),
  request_types: list('request types (events only)'),
  session_ids: list('session ids (events only)'),
  employee_ids: list('employee ids (events only)'),
  agent_ids: list('agent ids (events only)'),
  sources: z.array(z.enum(ALL_SOURCES)).optional().describe('Which usage sources the computed side counts; default every source except events'),
  rate_card: z.string().min(1).max(200).default('default'),
  pricing_as_of: InstantParamSchema.optional().describe('Price as the card stood at this instant'),
  // Checked by the service, as GraphQL's is (a decimal ≥ 0 in plain notation, at most 100 characters).
  tolerance: z.string().default('0.000001').describe('MATCH when |computed − billed| ≤ tolerance: a decimal ≥ 0 in plain notation, at most 100 characters'),
  first: countParam(z.coerce.number().int().min(0).max(1000).default(100)).describe('Rows per page (JSON)'),
  // A cursor holds the last row's dimension values (six of up to 256 characters, and the line item's key),
  // escaped twice: 3.3 kB in plain ASCII, 12–17 kB for values of emoji or quotes.
  after: z.string().max(32_768).optional().describe('The `next_page` cursor of the previous page'),
})
export type ReconQuery = z.infer<typeof ReconQuerySchema>

const money = z.string().nullable()
const ReconRowSchema = z
  .object({
    window_start: z.string(),
    window_end: z.string(),
    provider: z.string().nullable(),
    account_id: z.string().nullable(),
    project_id: z.string().nullable(),
    api_key_id: z.string().nullable(),
    model: z.string().nullable(),
    line_item: z.string().nullable(),
    computed: money,
    billed: money,
    difference: money,
    status: z.enum(RECON_STATUSES),
    unpriced_tokens: z.number().int(),
    billed_unit_price: money,
    card_unit_price: money,
    complete: z.boolean().describe('False when some usage of the group has no price (tokens or resource quantities): `computed` is a lower bound'),
  })
  .meta({ id: 'ReconRow' })

export const ReconPageSchema = z
  .object({
    object: z.literal('page'),
    data: z.array(ReconRowSchema),
    totals: z.object({ computed: z.string(), billed: z.string(), difference: z.string(), unpriced_tokens: z.number().int(), complete: z.boolean().describe('Every row complete') }),
    has_more: z.boolean(),
    next_page: z.string().nullable().describe('Pass as `after` for the next rows'),
    sources: z.array(z.string()).describe('The usage sources the computed side counted'),
    pricing_as_of: z.string().describe('The pricing instant; later pages price alike'),
  })
  .meta({ id: 'ReconPage' })

export const RECON_CSV_COLUMNS = [
  'window_start', 'window_end', 'provider', 'account_id', 'project_id', 'api_key_id', 'model', 'line_item', 'computed', 'billed',
  'difference', 'status', 'unpriced_tokens', 'billed_unit_price', 'card_unit_price', 'complete',
] as const
