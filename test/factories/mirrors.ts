// Seeds and independent expectations shared by the REST mirror tests (no code shared with src/).
import { Decimal } from 'decimal.js'
import { sql } from 'drizzle-orm'
import type { Db } from '../../src/db/client.js'
import { findRate, rng } from './expected.js'
import { seedCard, type PriceField, type SeedBucket, type SeedRate } from './usage.js'

export const DAY_S = 86_400
/** 2025-10-01T00:00:00Z */
export const T0 = 1_759_276_800

export const MIRROR_RATES: SeedRate[] = [
  { model: 'gpt-5-mini*', effectiveFrom: new Date('2025-01-01T00:00:00Z'), prices: { input: '0.25', cached_input: '0.025', output: '2', cache_write: '0.3' } },
  { model: 'gpt-5-mini*', serviceTier: 'flex', effectiveFrom: new Date('2025-01-01T00:00:00Z'), prices: { input: '0.125', cached_input: '0.0125', output: '1', cache_write: '0.15' } },
  { model: 'gpt-5-mini*', batch: true, effectiveFrom: new Date('2025-01-01T00:00:00Z'), prices: { input: '0.125', cached_input: '0.0125', output: '1' } },
  { model: 'gpt-4o-audio-preview-2025-06-03', effectiveFrom: new Date('2025-01-01T00:00:00Z'), prices: { input: '2.5', output: '10', input_audio: '40', output_audio: '80' } },
]
export const RECORDED = new Date('2025-01-01T00:00:00Z')

const MODELS = ['gpt-5-mini-2025-08-07', 'gpt-4o-audio-preview-2025-06-03', 'mystery-model']

/**
 * Hourly buckets over 2025-10-01 … 2025-10-10 (UTC) with no usage on 10-05 and 10-06, several
 * dimensions, audio, image, cache writes, batch and flex, and one bucket with no model.
 */
export function mirrorDataset(seed: number, n: number): SeedBucket[] {
  const r = rng(seed)
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)]!
  const out: SeedBucket[] = []
  for (let i = 0; i < n; i++) {
    let day = Math.floor(r() * 10)
    if (day === 4 || day === 5) day += 2
    const start = new Date((T0 + day * DAY_S + Math.floor(r() * 24) * 3600) * 1000)
    const model = i === 0 ? null : pick(MODELS)
    const audio = model?.includes('audio') ?? false
    out.push({
      start,
      end: new Date(start.getTime() + 3_600_000),
      model,
      projectId: pick(['proj_a', 'proj_b', null]),
      userId: pick(['u1', 'u2']),
      apiKeyId: pick(['key_1', 'key_2']),
      serviceTier: pick(['default', 'default', 'flex']),
      batch: pick([false, true, null]),
      requests: 1 + Math.floor(r() * 9),
      inText: Math.floor(r() * 90_000),
      cachedText: Math.floor(r() * 9_000),
      cacheWrite: r() < 0.3 ? Math.floor(r() * 4_000) : 0,
      outText: Math.floor(r() * 40_000),
      inAudio: audio ? Math.floor(r() * 7_000) : 0,
      cachedAudio: audio ? Math.floor(r() * 500) : 0,
      outAudio: audio ? Math.floor(r() * 2_000) : 0,
      inImage: r() < 0.2 ? Math.floor(r() * 3_000) : 0,
      source: pick(['api', 'openai_csv', 'openai_api']),
    })
  }
  return out
}

/** Token class → price field and OpenAI-style line item name, written out independently of src/. */
const CLASSES: [keyof SeedBucket, PriceField, string][] = [
  ['inText', 'input', 'input'],
  ['inAudio', 'input_audio', 'input audio'],
  ['inImage', 'input_image', 'input image'],
  ['cachedText', 'cached_input', 'cached input'],
  ['cachedAudio', 'cached_input_audio', 'cached input audio'],
  ['cachedImage', 'cached_input_image', 'cached input image'],
  ['cacheWrite', 'cache_write', 'cache write'],
  ['outText', 'output', 'output'],
  ['outAudio', 'output_audio', 'output audio'],
  ['outImage', 'output_image', 'output image'],
]

export interface ExpectedItem {
  quantity: number
  amount: Decimal | null
}

/** Expected line items of a set of buckets: name → quantity and exact amount (null when unpriced). */
export function expectedLineItems(buckets: SeedBucket[], rates: (SeedRate & { id: number })[]): Map<string, ExpectedItem> {
  const items = new Map<string, ExpectedItem>()
  for (const b of buckets) {
    const rate = findRate(b, rates, new Date())
    const suffix = `${b.serviceTier && b.serviceTier !== 'default' ? `, ${b.serviceTier}` : ''}${b.batch === true ? ', batch' : ''}`
    const model = b.model ?? 'unknown model'
    for (const [key, price, name] of CLASSES) {
      const tokens = (b[key] as number | undefined) ?? 0
      if (tokens === 0) continue
      const p = rate?.prices[price]
      const item = p === undefined ? `${model}, unpriced${suffix}` : `${model}, ${name}${suffix}`
      const e = items.get(item) ?? { quantity: 0, amount: p === undefined ? null : new Decimal(0) }
      e.quantity += tokens
      if (p !== undefined) e.amount = e.amount!.plus(new Decimal(tokens).times(p).times('0.000001'))
      items.set(item, e)
    }
  }
  return items
}

export const inRange = (b: SeedBucket, from: number, to: number) => b.start.getTime() >= from * 1000 && b.start.getTime() < to * 1000

export const USAGE_TOTALS_QUERY = `query($from: DateTime!, $to: DateTime!, $card: String, $filter: UsageFilter) {
  usage(from: $from, to: $to, window: TOTAL, rateCard: $card, filter: $filter) {
    totals { requests inputTokens outputTokens cachedInputTokens cacheWriteTokens cost { total unpricedTokens } }
    sources
  }
}`

/** The `default` card ships with the catalog; a bare test database may not have it yet. */
export async function ensureDefaultCard(db: Db): Promise<void> {
  const rows = await db.query<{ id: number }>(sql`select id from rate_cards where name = 'default' and tenant_id is null`)
  if (!rows.length) await seedCard(db, 'default', [])
}
