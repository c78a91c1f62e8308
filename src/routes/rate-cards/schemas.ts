import { z } from 'zod'
import type { RateCard, StoredRate } from '../../db/queries/rate-cards.js'
import { PLAIN_DECIMAL } from '../../decimal/decimal-text.js'
import { PRICE_CLASSES, type PriceClass } from '../../db/rate-columns.js'

import { RESOURCE_NAME } from '../../ingest/resource.js'
import { dimensionText, providerIdText } from '../../ingest/text-schema.js'
import { foldCapitals, foldProvider, normaliseTier } from '../../ingest/values.js'
import { InstantInputSchema } from '../../time/instant-schema.js'
import { toDate } from '../../time/instant.js'
import { strictQuery } from '../shared-schemas.js'

/** The one instant parser (src/time/instant.ts): validated by the schema, converted with `parseTimestamp`. */
export const parseTimestamp = toDate
const TimestampSchema = InstantInputSchema

export const CardNameSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'lowercase letters, digits, ".", "-" or "_", 1–63 characters')

const MAX_PRICE_TEXT = 40
// The schema-wide `error` is only for a value that is not a string: a `.max` without its own message
// answered a 41-character decimal with "must be a decimal string", which it is.
const PriceSchema = z
  .string({ error: 'must be a decimal string such as "0.25"' })
  .regex(PLAIN_DECIMAL, 'must be a non-negative decimal string in plain notation, such as "0.25"')
  .max(MAX_PRICE_TEXT, `must be at most ${MAX_PRICE_TEXT} characters`)

const PricesSchema = z
  .strictObject(Object.fromEntries(PRICE_CLASSES.map((c) => [c, PriceSchema.optional()])) as Record<PriceClass, z.ZodOptional<typeof PriceSchema>>)
  .describe('USD per 1M tokens as decimal strings; an absent class is unpriced, never 0')

// Any tier usage stores (a dimension text, capitals folded as ingest folds them): a narrower rule (50
// letters, digits, "-" or "_") left usage of tiers such as "scale.v2" unpriceable. A tier that ingest
// stores as another (normaliseTier) would match no usage.
const TierSchema = dimensionText()
  .overwrite(foldCapitals)
  .refine((t) => { const n = normaliseTier(t, null); return n.serviceTier === t && n.batch === null }, {
    message: 'usage with this tier is stored as "default" (batch usage as batch: true); use "default" and batch',
  })
  .describe('as usage reports it; case does not matter (stored in lower case, as usage tiers are)')

// A model id as usage stores it (dimensionText: up to MAX_DIMENSION_LENGTH characters, no NUL), so every
// stored model can be priced by its exact id: at 200 UTF-16 units, ids of 201–256 characters could not.
const ModelSchema = dimensionText()
  .refine((m) => !m.slice(0, -1).includes('*'), {
    message: 'an exact model id, a prefix pattern with a single "*" at the end (e.g. "gpt-4o-2024-*"), or "*" for any model',
  })

const DimensionValue = z.string().min(1).max(256)

const UnitPriceSchema = z
  .strictObject({
    resource: z
      .string({ error: 'a unit price needs its resource' })
      .regex(RESOURCE_NAME, 'a resource name matching [a-z0-9_]{1,64}')
      // Usage can never carry a resource row named "tokens" (ingest refuses it): such a unit price would
      // price nothing while the card looked as if it priced tokens.
      .refine((r) => r !== 'tokens', { message: '"tokens" is reserved: tokens are priced by `prices` (per 1M tokens), never by a unit price' })
      .describe('the resource a usage row carries (not "tokens": tokens are priced by `prices`)'),
    attributes: z.record(DimensionValue, DimensionValue).default({}).describe('string → string; all must equal the row’s'),
    price: PriceSchema.describe('USD per unit (storage_bytes: per GiB-day)'),
  })
  .meta({ id: 'UnitPrice' })

export const RateInputSchema = z
  .strictObject({
    provider: providerIdText().default('openai').describe('a provider id such as "openai"; folded to lower case, as usage is'),
    model: ModelSchema,
    service_tier: TierSchema.default('default'),
    batch: z.boolean().default(false),
    context_tier: DimensionValue.nullable().optional().describe('only usage of this context tier (e.g. "200k-1M"); null: any'),
    inference_geo: DimensionValue.nullable().optional().describe('only usage of this inference geo (e.g. "us"); null: any'),
    effective_from: TimestampSchema,
    effective_to: TimestampSchema.nullable().optional(),
    prices: PricesSchema.default({}),
    unit_prices: z.array(UnitPriceSchema).max(1000).default([]).describe('per-unit prices of resources; the match with most attributes wins'),
    supersedes: z.number().int().positive().nullable().optional(),
    source: z.string().max(500).nullable().optional(),
  })
  .superRefine((r, ctx) => {
    const from = parseTimestamp(r.effective_from)
    const to = r.effective_to === null || r.effective_to === undefined ? undefined : parseTimestamp(r.effective_to)
    if (from && to && to <= from)
      ctx.addIssue({ code: 'custom', path: ['effective_to'], message: 'must be later than effective_from' })
  })
  .meta({ id: 'NewRate' })

export const PostRatesSchema = z.strictObject({ rates: z.array(RateInputSchema).min(1).max(10_000) })

export const PutCardSchema = z.strictObject({
  description: z.string().max(2000).nullable().optional(),
  currency: z.literal('USD', { error: 'v1 rate cards are USD only' }).default('USD'),
})

export const RateCardSchema = z
  .object({
    name: z.string(),
    scope: z.enum(['global', 'tenant']),
    tenant_id: z.string().nullable(),
    description: z.string().nullable(),
    currency: z.string(),
    created_at: z.date(),
    updated_at: z.date(),
  })
  .meta({ id: 'RateCard' })

export const RateSchema = z
  .object({
    id: z.number().int(),
    card: z.string(),
    provider: z.string(),
    model: z.string(),
    service_tier: z.string(),
    batch: z.boolean(),
    context_tier: z.string().nullable(),
    inference_geo: z.string().nullable(),
    effective_from: z.date(),
    effective_to: z.date().nullable(),
    prices: z.object(Object.fromEntries(PRICE_CLASSES.map((c) => [c, z.string().optional()])) as Record<PriceClass, z.ZodOptional<z.ZodString>>),
    unit_prices: z.array(z.object({ resource: z.string(), attributes: z.record(z.string(), z.string()), price: z.string() })),
    supersedes: z.number().int().nullable(),
    source: z.string().nullable(),
    recorded_at: z.date(),
  })
  .meta({ id: 'Rate' })

export const RatesQuerySchema = strictQuery({
  provider: z.string().min(1).max(63).overwrite(foldProvider).optional().describe('only this provider’s rates (any case)'),
  model: dimensionText().optional().describe('resolve like pricing: the exact id wins, then the longest prefix pattern'),
  at: TimestampSchema.optional().describe('the instant whose rates are listed (default now)'),
})

export function cardOut(c: RateCard): z.infer<typeof RateCardSchema> {
  return {
    name: c.name,
    scope: c.tenantId === null ? 'global' : 'tenant',
    tenant_id: c.tenantId,
    description: c.description,
    currency: c.currency,
    created_at: c.createdAt,
    updated_at: c.updatedAt,
  }
}

export function rateOut(card: string, r: StoredRate): z.infer<typeof RateSchema> {
  return {
    id: r.id,
    card,
    provider: r.provider,
    model: r.model,
    service_tier: r.serviceTier,
    batch: r.batch,
    context_tier: r.contextTier,
    inference_geo: r.inferenceGeo,
    effective_from: r.effectiveFrom,
    effective_to: r.effectiveTo,
    prices: r.prices,
    unit_prices: r.unitPrices,
    supersedes: r.supersedes,
    source: r.source,
    recorded_at: r.recordedAt,
  }
}
