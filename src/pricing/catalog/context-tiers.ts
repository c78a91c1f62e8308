import type { Prices, UnitPrice } from '../../db/rate-columns.js'
import type { CatalogRate } from './genai-prices.js'

/**
 * Anthropic's long-context pricing: requests over 200K input tokens are billed at higher rates, and its
 * usage reports say which side each row is on (`context_window`: `0-200k` / `200k-1M`, stored as
 * `context_tier`). The catalog writes these as tiers starting at 200,000 tokens.
 */
export const CONTEXT_TIERS = { threshold: 200_000, short: '0-200k', long: '200k-1M' } as const

/** A tiered catalog segment's prices below and above the threshold. */
export interface TierSplit {
  base: Prices
  long: Prices
}

interface TierSegment {
  from: Date
  tiered: boolean
  split?: TierSplit | undefined
  unitPrices: UnitPrice[]
}

const LISTED_SHORT = ' (listed with a context window ≤ 200k: 200k-1M usage unpriced)'

/** The context tiers a segment prices (or explicitly leaves unpriced), with their prices and source note. */
function tierPrices(provider: string, s: TierSegment, contextWindow: number | undefined): { tier: string; prices: Prices; note: string }[] {
  if (s.split)
    return [
      { tier: CONTEXT_TIERS.short, prices: s.split.base, note: ` (context tier ${CONTEXT_TIERS.short})` },
      { tier: CONTEXT_TIERS.long, prices: s.split.long, note: ` (context tier ${CONTEXT_TIERS.long})` },
    ]
  // A model the catalog lists at ≤ 200K that reports 200k-1M usage is billed at prices the catalog
  // does not know: a priceless 200k-1M rate keeps the flat (any-tier) rate from pricing it.
  if (provider === 'anthropic' && !s.tiered && contextWindow !== undefined && contextWindow <= CONTEXT_TIERS.threshold)
    return [{ tier: CONTEXT_TIERS.long, prices: {}, note: LISTED_SHORT }]
  return []
}

/**
 * The per-context-tier rates of one catalog segment, beside its any-tier rate (`standard`, whose token
 * prices are empty when the segment is tiered, so usage that does not say its tier stays unpriced). A
 * tier rate ends where the next segment stops pricing that tier (claude-sonnet-4-6 became flat on
 * 2026-03-13: from then on its any-tier rate prices every tier).
 */
export function contextTierRates(
  standard: CatalogRate,
  segment: TierSegment,
  next: TierSegment | undefined,
  contextWindow: number | undefined,
): CatalogRate[] {
  const nextTiers = new Set(next ? tierPrices(standard.provider, next, contextWindow).map((t) => t.tier) : [])
  return tierPrices(standard.provider, segment, contextWindow).map((t) => ({
    ...standard,
    contextTier: t.tier,
    effectiveFrom: segment.from,
    effectiveTo: next && !nextTiers.has(t.tier) ? next.from : null,
    prices: t.prices,
    unitPrices: segment.unitPrices,
    source: `${standard.source}${t.note}`,
  }))
}
