import { sql } from 'drizzle-orm'
import type { Db } from '../../src/db/client.js'
import type { PriceClass } from '../../src/db/rate-columns.js'

/** A stored bucket in token classes (what ingestion produces), for seeding query tests directly. */
export interface SeedBucket {
  start: Date
  end: Date
  provider?: string
  accountId?: string | null
  projectId?: string | null
  userId?: string | null
  apiKeyId?: string | null
  model: string | null
  serviceTier?: string
  batch?: boolean | null
  requests?: number | null
  inText?: number
  inAudio?: number
  inImage?: number
  cachedText?: number
  cachedAudio?: number
  cachedImage?: number
  cacheWrite?: number
  cacheWrite1h?: number
  outText?: number
  outAudio?: number
  outImage?: number
  source?: string
  usageType?: string
  contextTier?: string | null
  inferenceGeo?: string | null
}

export const CLASS_KEYS = [
  'inText',
  'inAudio',
  'inImage',
  'cachedText',
  'cachedAudio',
  'cachedImage',
  'cacheWrite',
  'outText',
  'outAudio',
  'outImage',
] as const

export function inputOf(b: SeedBucket): number {
  return (b.inText ?? 0) + (b.inAudio ?? 0) + (b.inImage ?? 0) + (b.cachedText ?? 0) + (b.cachedAudio ?? 0) + (b.cachedImage ?? 0) + (b.cacheWrite ?? 0) + (b.cacheWrite1h ?? 0)
}
export function outputOf(b: SeedBucket): number {
  return (b.outText ?? 0) + (b.outAudio ?? 0) + (b.outImage ?? 0)
}

export async function seedBuckets(db: Db, tenantId: string, buckets: SeedBucket[]): Promise<void> {
  for (const b of buckets) {
    await db.query(sql`insert into usage_buckets (tenant_id, provider, account_id, start_time, end_time, project_id,
        user_id, api_key_id, model, service_tier, batch, num_model_requests, input_tokens, output_tokens, in_text,
        in_audio, in_image, cached_text, cached_audio, cached_image, cache_write, out_text, out_audio, out_image, source,
        cache_write_1h, usage_type, context_tier, inference_geo)
      values (${tenantId}, ${b.provider ?? 'openai'}, ${b.accountId ?? null}, ${b.start.toISOString()}::timestamptz,
        ${b.end.toISOString()}::timestamptz, ${b.projectId ?? null}, ${b.userId ?? null}, ${b.apiKeyId ?? null},
        ${b.model}, ${b.serviceTier ?? 'default'}, ${b.batch ?? null}, ${b.requests ?? null}, ${inputOf(b)},
        ${outputOf(b)}, ${b.inText ?? 0}, ${b.inAudio ?? 0}, ${b.inImage ?? 0}, ${b.cachedText ?? 0},
        ${b.cachedAudio ?? 0}, ${b.cachedImage ?? 0}, ${b.cacheWrite ?? 0}, ${b.outText ?? 0}, ${b.outAudio ?? 0},
        ${b.outImage ?? 0}, ${b.source ?? 'api'}, ${b.cacheWrite1h ?? 0}, ${b.usageType ?? 'completions'}, ${b.contextTier ?? null},
        ${b.inferenceGeo ?? null})`)
  }
}

export interface SeedRate {
  provider?: string
  model: string
  serviceTier?: string
  batch?: boolean
  effectiveFrom: Date
  effectiveTo?: Date | null
  recordedAt?: Date
  supersedes?: number
  prices: Partial<Record<PriceField, string>>
  unitPrices?: { resource: string; attributes?: Record<string, string>; price: string }[]
}

/** The price classes these factories seed (every one but the 1-hour cache write). */
export type PriceField = Exclude<PriceClass, 'cache_write_1h'>

/** A card with rates, written directly (the admin REST API has its own tests). Returns rate ids. */
export async function seedCard(db: Db, name: string, rates: SeedRate[], tenantId: string | null = null): Promise<number[]> {
  const [card] = await db.query<{ id: number }>(
    sql`insert into rate_cards (name, tenant_id) values (${name}, ${tenantId}) returning id`,
  )
  const ids: number[] = []
  for (const r of rates) {
    const p = (f: PriceField) => r.prices[f] ?? null
    const [row] = await db.query<{ id: number }>(sql`insert into rates (card_id, provider, model, service_tier, batch,
        effective_from, effective_to, input, cached_input, cache_write, output, input_audio, cached_input_audio,
        output_audio, input_image, cached_input_image, output_image, supersedes, recorded_at, unit_prices)
      values (${card!.id}, ${r.provider ?? 'openai'}, ${r.model}, ${r.serviceTier ?? 'default'}, ${r.batch ?? false},
        ${r.effectiveFrom.toISOString()}::timestamptz, ${r.effectiveTo?.toISOString() ?? null}::timestamptz,
        ${p('input')}::numeric, ${p('cached_input')}::numeric, ${p('cache_write')}::numeric, ${p('output')}::numeric,
        ${p('input_audio')}::numeric, ${p('cached_input_audio')}::numeric, ${p('output_audio')}::numeric,
        ${p('input_image')}::numeric, ${p('cached_input_image')}::numeric, ${p('output_image')}::numeric,
        ${r.supersedes ?? null}, ${(r.recordedAt ?? new Date()).toISOString()}::timestamptz,
        ${JSON.stringify(r.unitPrices ?? [])}::text::jsonb)
      returning id`)
    ids.push(row!.id)
  }
  return ids
}
