import { z } from 'zod'
import type { BudgetRow, DeliveryRow, AlertRow } from '../../db/queries/budgets.js'
import { PERIODS } from '../../budgets/periods.js'
import type { BudgetStatus } from '../../budgets/status.js'
import { ALL_SOURCES, FILTER_PARAMS, filterFromParams, MAX_FILTER_VALUES, MODALITIES, type UsageFilter } from '../../usage/dimensions.js'
import { isValidTimeZone } from '../../usage/windows.js'
import { normalizeDecimal } from '../../decimal/decimal-text.js'
import { InstantParamSchema } from '../../time/instant-schema.js'
import { outboundUrl } from '../../http/outbound-url.js'
import { countParam, strictQuery } from '../shared-schemas.js'

export const BudgetNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'letters, digits, ".", "-" or "_", 1–128 characters')

const values = z.array(z.string().min(1).max(256)).max(MAX_FILTER_VALUES)

const BudgetFilterSchema = z
  .strictObject({
    providers: values.optional(),
    account_ids: values.optional(),
    project_ids: values.optional(),
    api_key_ids: values.optional(),
    user_ids: values.optional(),
    models: values.optional(),
    service_tiers: values.optional(),
    modalities: z.array(z.enum(MODALITIES)).optional(),
    sources: z.array(z.enum(ALL_SOURCES)).optional().describe('default as for `usage`: every source except events (events when an event-only field is filtered)'),
    usage_types: values.optional().describe('token usage types: completions, embeddings, moderations'),
    context_tiers: values.optional(),
    inference_geos: values.optional(),
    resources: values.optional().describe('resources, e.g. `images`; `tokens` keeps the token usage'),
    batch: z.boolean().optional(),
    endpoints: values.optional(),
    request_types: values.optional(),
    session_ids: values.optional(),
    employee_ids: values.optional(),
    agent_ids: values.optional(),
  })
  .meta({ id: 'BudgetFilter', description: 'The usage a budget counts: `usage`’s UsageFilter in snake_case' })

export type BudgetFilterInput = z.infer<typeof BudgetFilterSchema>

export function filterIn(f: BudgetFilterInput): UsageFilter {
  return filterFromParams(f)
}

function filterOut(f: UsageFilter): BudgetFilterInput {
  const out: Record<string, unknown> = {}
  for (const [rest, field] of Object.entries(FILTER_PARAMS)) if (f[field] !== undefined) out[rest] = f[field]
  return out as BudgetFilterInput
}

const DECIMAL = /^\d{1,20}(\.\d{1,20})?$/

export const BudgetInputSchema = z
  .strictObject({
    amount: z
      .string({ error: 'must be a decimal string such as "500"' })
      .regex(DECIMAL, 'must be a decimal string in plain notation, such as "500" or "99.50"')
      .refine((v) => /[1-9]/.test(v), 'must be greater than 0'),
    period: z.enum(PERIODS),
    time_zone: z
      .string()
      .refine(isValidTimeZone, 'must be an IANA time zone name such as "Europe/Berlin" or "UTC"')
      .default('UTC'),
    filter: BudgetFilterSchema.default({}),
    rate_card: z.string().min(1).max(63).default('default'),
    thresholds: z
      .array(z.number().int('must be an integer').min(1, 'must be between 1 and 1000').max(1000, 'must be between 1 and 1000'))
      .min(1)
      .max(50)
      .default([50, 80, 100])
      .describe('percent of amount; each crossing alerts once per period'),
    webhook_url: outboundUrl('https://hooks.example.com/tokenledger')
      .nullable()
      .optional()
      .describe('receives alerts (POST); redirects are not followed; private and reserved addresses are refused unless OUTBOUND_PRIVATE_ADDRESSES=allow'),
    webhook_secret: z
      .string()
      .min(16, 'must be at least 16 characters')
      .max(256)
      .nullable()
      .optional()
      .describe('signs deliveries (X-Tokenledger-Signature); stored encrypted, never returned; omitted on update keeps the stored one while webhook_url keeps its origin (moved to another origin: 400), null removes it'),
  })
  .superRefine((b, ctx) => {
    if (b.webhook_secret && !b.webhook_url) ctx.addIssue({ code: 'custom', path: ['webhook_secret'], message: 'needs webhook_url' })
  })
  .describe('A budget: amount per period, usage filter, rate card, thresholds and webhook')

export type BudgetInput = z.infer<typeof BudgetInputSchema>

export const BudgetSchema = z
  .object({
    name: z.string(),
    amount: z.string(),
    currency: z.string(),
    period: z.enum(PERIODS),
    time_zone: z.string(),
    filter: BudgetFilterSchema,
    rate_card: z.string(),
    thresholds: z.array(z.number().int()),
    webhook_url: z
      .string()
      .nullable()
      .describe('the receiver; a key without the `ingest` scope sees its origin only (`https://hooks.example.com/…`): a Slack- or Teams-style URL is itself the credential'),
    webhook_secret_set: z.boolean().describe('whether deliveries are signed; the secret itself is never returned'),
    spent: z.string().describe('spend in the current period, priced like `usage`'),
    forecast: z.string().describe('calendar: spent × period length ÷ elapsed time; rolling: spent'),
    percent_used: z.string().describe('spent ÷ amount × 100, rounded half-even to 12 places'),
    period_start: z.date(),
    period_end: z.date(),
    crossed: z.array(z.number().int()).describe('thresholds crossed in the period by `at`: recorded as alerts by then, or reached by the spend up to it'),
    complete: z.boolean().describe('false when usage in scope has no price (spend is then a lower bound)'),
    created_at: z.date(),
    updated_at: z.date(),
  })
  .meta({ id: 'Budget' })

/**
 * A webhook URL as a reader without the `ingest` scope sees it: the origin, its path and query left out.
 * Chat webhooks (Slack, Teams, Discord) carry their secret in the path, and a read key is the one handed
 * to dashboards; whoever may set the URL (`ingest`) sees it whole.
 */
function originOnly(url: string): string {
  const u = new URL(url)
  return u.pathname === '/' && !u.search ? `${u.origin}/` : `${u.origin}/…`
}

export function budgetOut(row: BudgetRow, s: BudgetStatus, wholeWebhookUrl: boolean): z.infer<typeof BudgetSchema> {
  return {
    name: row.name,
    amount: normalizeDecimal(row.amount),
    currency: s.currency,
    period: row.period as (typeof PERIODS)[number],
    time_zone: row.time_zone,
    filter: filterOut(row.filter as UsageFilter),
    rate_card: row.rate_card,
    thresholds: [...row.thresholds].sort((a, b) => a - b),
    webhook_url: row.webhook_url === null || wholeWebhookUrl ? row.webhook_url : originOnly(row.webhook_url),
    webhook_secret_set: row.webhook_secret_sealed !== null,
    spent: s.spent,
    forecast: s.forecast,
    percent_used: s.percentUsed,
    period_start: s.periodStart,
    period_end: s.periodEnd,
    crossed: s.crossed,
    complete: s.complete,
    created_at: row.created_at,
    updated_at: row.updated_at,
  }
}

export const AtQuerySchema = strictQuery({
  at: InstantParamSchema.optional()
    .describe('the instant whose period is shown as it stood then: spend counts rows starting up to and including it; also the elapsed time of the forecast (default now)'),
})

export const AlertsQuerySchema = strictQuery({
  limit: countParam(z.coerce.number().int().min(1).max(1000).default(100)).describe('newest first'),
})

export const AlertSchema = z
  .object({
    id: z.string(),
    threshold: z.number().int(),
    amount: z.string(),
    spent: z.string().describe('spend when the threshold was crossed (a fact: later re-pricing does not change it)'),
    complete: z
      .boolean()
      .nullable()
      .describe('whether every usage in `spent` had a price (false: unpriced usage is not in it, so it is a lower bound); null for alerts recorded before tokenledger kept it'),
    period_start: z.date(),
    period_end: z.date(),
    crossed_at: z.date(),
    delivery_status: z.enum(['pending', 'delivered', 'failed', 'none']),
    deliveries: z.array(
      z.object({
        attempt: z.number().int(),
        attempted_at: z.date(),
        status_code: z.number().int().nullable(),
        error: z.string().nullable(),
        duration_ms: z.number().int(),
      }),
    ),
  })
  .meta({ id: 'BudgetAlert' })

export function alertOut(a: AlertRow & { deliveries: DeliveryRow[] }): z.infer<typeof AlertSchema> {
  return {
    id: a.id,
    threshold: a.threshold,
    amount: normalizeDecimal(a.amount),
    spent: normalizeDecimal(a.spent),
    complete: a.complete,
    period_start: a.period_start,
    period_end: a.period_end,
    crossed_at: a.crossed_at,
    delivery_status: a.delivery_status,
    deliveries: a.deliveries.map((d) => ({
      attempt: d.attempt,
      attempted_at: d.attempted_at,
      status_code: d.status_code,
      error: d.error,
      duration_ms: d.duration_ms,
    })),
  }
}
