import { z } from 'zod'
import { ABANDONED_RUN, type ConnectionRow, type LastRun } from '../../connections/connection-store.js'
import { endpointNames, PROVIDER_NAMES, type ProviderName } from '../../connections/providers.js'
import { dimensionText } from '../../ingest/text-schema.js'
import { outboundUrl } from '../../http/outbound-url.js'
import { INSTANT_FORMAT, parseInstant } from '../../time/instant.js'

/**
 * `start_date`: an instant, or `YYYY-MM-DD` (UTC midnight) — read by the one instant parser. Never in
 * the future: there would be nothing to pull.
 */
const StartDateSchema = z
  .union([z.number(), z.string()])
  .transform((v, ctx) => {
    const r = parseInstant(typeof v === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(v) ? `${v}T00:00:00Z` : v)
    if (!r.ok) {
      ctx.addIssue({ code: 'custom', message: r.message })
      return z.NEVER
    }
    if (r.ms > Date.now()) {
      ctx.addIssue({ code: 'custom', message: 'must not be in the future' })
      return z.NEVER
    }
    return new Date(r.ms)
  })
  .describe(`YYYY-MM-DD (UTC midnight) or ${INSTANT_FORMAT}; not in the future`)

const urlOf = (u: string) => (URL.canParse(u) ? new URL(u) : undefined)

/** The API root without a version (`https://api.openai.com`); the provider's paths are appended to it. */
const BaseUrlSchema = outboundUrl('https://api.openai.com')
  // Any number of trailing slashes: they are trimmed before the provider's paths are appended, so
  // `…/v1//` requested `…/v1/v1/organization/…` (a 404 on every run) past a check for `/v1` and `/v1/`.
  .refine((u) => !/\/v1\/*$/.test(urlOf(u)?.pathname ?? ''), 'is the API root without a version: drop the trailing /v1')
  .refine((u) => !urlOf(u)?.search && !urlOf(u)?.hash, 'must not carry a query or fragment')
  .describe('The API root (default the provider’s); private and reserved addresses are refused unless OUTBOUND_PRIVATE_ADDRESSES=allow')

const AdminKeySchema = z
  .string()
  .min(8, 'must be the provider admin key')
  .max(1000)
  // Sent as an HTTP header value: a key with spaces, control or non-ASCII characters can never work.
  .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces, as provider admin keys are')
  .describe('The provider admin key; stored sealed, never returned')

const ALL_ENDPOINTS = [...new Set(PROVIDER_NAMES.flatMap(endpointNames))]

/** A non-empty list of endpoint names, each at most once (a repeat is named at its index). */
const EndpointsSchema = z
  .array(z.enum(ALL_ENDPOINTS))
  .min(1)
  .superRefine((list, ctx) => {
    list.forEach((e, i) => {
      const first = list.indexOf(e)
      if (first !== i) ctx.addIssue({ code: 'custom', path: [i], message: `repeats "${e}" (already at index ${first})` })
    })
  })

/**
 * A body field the schema does not know is a problem named at its own path: silently dropped, a create
 * with `"enabled": false` (a field GET shows and PATCH takes) started pulling at once, and `"lag_hour": 0`
 * kept the 48-hour default.
 */
const strictBody = <Shape extends z.ZodRawShape>(shape: Shape) => {
  const known = Object.keys(shape).join(', ')
  return z.strictObject(shape, {
    error: (issue) => (issue.code === 'unrecognized_keys' ? `is not a field of this body; its fields are ${known}` : undefined),
  })
}

export const ConnectionInputSchema = strictBody({
  name: dimensionText(),
  provider: z.enum(PROVIDER_NAMES),
  admin_key: AdminKeySchema,
  account_id: dimensionText().nullish().describe('The provider organization the pulled rows belong to (the ledger’s account_id)'),
  base_url: BaseUrlSchema.optional(),
  start_date: StartDateSchema,
  interval_minutes: z.number().int().min(1).max(7 * 24 * 60).default(60),
  lag_hours: z.number().int().min(0).max(24 * 90).default(48),
  bucket_width: z.enum(['1h', '1d']).default('1h'),
  endpoints: EndpointsSchema.optional().describe('Default: every endpoint of the provider'),
})

export const ConnectionPatchSchema = strictBody({
  name: dimensionText().optional(),
  admin_key: AdminKeySchema.optional(),
  base_url: BaseUrlSchema.optional(),
  interval_minutes: z.number().int().min(1).max(7 * 24 * 60).optional(),
  lag_hours: z.number().int().min(0).max(24 * 90).optional(),
  endpoints: EndpointsSchema.optional(),
  enabled: z.boolean().optional(),
})

/**
 * `POST …/sync`'s optional body. `from` re-pulls every endpoint from that instant (on its bucket grid, not
 * before `start_date`, which it takes the rule of), when that is earlier than where the run would start: after
 * `DELETE /v1/usage/buckets` of a range, or to pick up a revision older than `lag_hours`. `synced_until` only
 * moves forward, so a re-pull never makes the next scheduled run start earlier.
 */
export const SyncBodySchema = strictBody({
  from: StartDateSchema.optional().describe('Re-pull every endpoint from here: YYYY-MM-DD (UTC midnight) or an instant; not in the future'),
})

/**
 * Endpoint names of a raw body that exist, but not for this provider, as problems at `body.endpoints.<i>`.
 * Read from the body as sent, so they are listed beside the schema's own problems in one 400 (a name no
 * provider has is the schema's to report).
 */
export function foreignEndpoints(provider: unknown, endpoints: unknown) {
  if (!PROVIDER_NAMES.includes(provider as ProviderName) || !Array.isArray(endpoints)) return []
  const own = new Set(endpointNames(provider as ProviderName))
  return endpoints.flatMap((e: unknown, i) =>
    typeof e !== 'string' || !ALL_ENDPOINTS.includes(e) || own.has(e)
      ? []
      : [{ path: `body.endpoints.${i}`, message: `${String(provider)} has no endpoint "${e}"; it has ${[...own].join(', ')}` }],
  )
}

const Instant = z.iso.datetime()

const LastRunSchema = z.object({
  started_at: Instant,
  finished_at: Instant.nullable(),
  status: z.enum(['running', 'succeeded', 'failed']),
  pages: z.number().int(),
  rows: z.number().int(),
  error: z.string().nullable(),
})

export const ConnectionSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    provider: z.enum(PROVIDER_NAMES),
    account_id: z.string().nullable(),
    base_url: z.string(),
    admin_key_last4: z.string().describe('The last four characters of the admin key; the key itself is never returned'),
    start_date: Instant,
    interval_minutes: z.number().int(),
    lag_hours: z.number().int(),
    bucket_width: z.enum(['1h', '1d']),
    endpoints: z.array(z.string()),
    enabled: z.boolean(),
    synced_until: z.record(z.string(), Instant.nullable()).describe('Per endpoint: everything before this instant is stored; null = nothing yet'),
    next_run_at: Instant.describe('When the scheduler runs it next'),
    last_run: LastRunSchema.nullable(),
    previous_run: LastRunSchema.nullable().describe(
      'The run before last_run, as it ended (null before a second run): a client that started a run (POST …/sync answers with its last_run.started_at) finds its outcome here once a later run has begun',
    ),
    created_at: Instant,
    updated_at: Instant,
  })
  .meta({ id: 'Connection' })

export type ConnectionView = z.infer<typeof ConnectionSchema>

const iso = (v: Date | string) => new Date(v).toISOString()

/**
 * The last run as it stands. A `running` run whose lease has lapsed has no instance any more (killed,
 * out of memory, its host gone): nothing would ever record its end, so it showed `running` until the
 * next run — for ever with TOKENLEDGER_SYNC=off. It is shown failed, ended when its lease did.
 */
function lastRun(row: ConnectionRow): LastRun | null {
  const run = row.last_run
  if (run?.status !== 'running') return run
  const leaseEnd = row.lease_until === null ? undefined : new Date(row.lease_until)
  if (leaseEnd && leaseEnd.getTime() > Date.now()) return run
  return { ...run, status: 'failed', finished_at: (leaseEnd ?? new Date()).toISOString(), error: ABANDONED_RUN }
}

const runOut = (run: LastRun) => ({
  started_at: iso(run.started_at),
  finished_at: run.finished_at ? iso(run.finished_at) : null,
  status: run.status,
  pages: run.pages,
  rows: Number(run.rows),
  error: run.error,
})

/** The public view of a stored connection: an allowlist (the sealed key never leaves). */
export function connectionOut(row: ConnectionRow): ConnectionView {
  const run = lastRun(row)
  return {
    id: row.id,
    name: row.name,
    provider: row.provider as ProviderName,
    account_id: row.account_id,
    base_url: row.base_url,
    admin_key_last4: row.admin_key_last4,
    start_date: iso(row.start_date),
    interval_minutes: row.interval_minutes,
    lag_hours: row.lag_hours,
    bucket_width: row.bucket_width,
    endpoints: row.endpoints,
    enabled: row.enabled,
    synced_until: Object.fromEntries(row.endpoints.map((e) => [e, row.synced_until[e] ? iso(row.synced_until[e]) : null])),
    next_run_at: iso(row.next_run_at),
    last_run: run && runOut(run),
    previous_run: row.last_run?.previous ? runOut(row.last_run.previous) : null,
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
  }
}

export const ConnectionIdParams = z.object({ id: z.string().min(1).max(200) })
