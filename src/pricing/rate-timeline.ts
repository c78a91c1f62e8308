import type { RateKey } from '../db/queries/rate-cards.js'
import type { Prices } from '../db/rate-columns.js'

export interface TimelineRate extends RateKey {
  id: number
  effectiveFrom: Date
  effectiveTo: Date | null
  prices: Prices
  supersedes: number | null
  recordedAt: Date
}

export const keyOf = (r: RateKey): string => JSON.stringify([r.provider, r.model, r.serviceTier, r.batch, r.contextTier, r.inferenceGeo])

export const sameKey = (a: RateKey, b: RateKey): boolean => keyOf(a) === keyOf(b)

/**
 * Two rates of one timeline overlap when they start at the same instant, or when both have an explicit
 * end and their [from, to) ranges intersect. An open-ended rate simply yields to the next one.
 */
export function overlaps(
  a: { effectiveFrom: Date; effectiveTo: Date | null },
  b: { effectiveFrom: Date; effectiveTo: Date | null },
): boolean {
  if (a.effectiveFrom.getTime() === b.effectiveFrom.getTime()) return true
  if (!a.effectiveTo || !b.effectiveTo) return false
  return a.effectiveFrom < b.effectiveTo && b.effectiveFrom < a.effectiveTo
}

/** Rates that some other rate supersedes: out of the current timeline (they still price `pricingAsOf` before). */
export function supersededIds(rates: readonly Pick<TimelineRate, 'supersedes'>[]): Set<number> {
  return new Set(rates.flatMap((r) => (r.supersedes === null ? [] : [r.supersedes])))
}

/**
 * The rates in force at `at`, as the card stands now: superseded rates are replaced by their
 * corrections, then per timeline the rate with the latest `effective_from` ≤ `at` applies unless its own
 * `effective_to` has passed.
 */
export function ratesInForce<T extends TimelineRate>(rates: readonly T[], at: Date): T[] {
  const gone = supersededIds(rates)
  const best = new Map<string, T>()
  for (const r of rates) {
    if (gone.has(r.id) || r.effectiveFrom > at) continue
    const k = keyOf(r)
    const cur = best.get(k)
    if (!cur || r.effectiveFrom > cur.effectiveFrom) best.set(k, r)
  }
  return [...best.values()].filter((r) => !r.effectiveTo || at < r.effectiveTo)
}

/** Does a rate's model (exact id, or prefix pattern ending in `*`) match a usage model id? */
export function modelMatches(pattern: string, model: string): boolean {
  // `*` alone is the last resort for any model; `gpt-4o-2024-*` a prefix.
  return pattern.endsWith('*') ? model.startsWith(pattern.slice(0, -1)) : pattern === model
}

/**
 * Resolves a usage model id against rates the way pricing does (src/pricing/cost-sql.ts
 * `resolvedRatesSql`): a usage row of (provider, service_tier, batch, context_tier, inference_geo) is
 * priced by ONE rate — by model first (the exact id, then the longest prefix pattern), then a rate for
 * its context tier over one for any tier, then one for its inference geo over one for any geo. The
 * result is every rate that prices some such row of this model; a tiered pattern that the exact id's
 * rate for any tier outranks prices no row of it and is not listed.
 */
export function resolveModel<T extends RateKey>(rates: readonly T[], model: string): T[] {
  const matching = rates.filter((r) => modelMatches(r.model, model))
  // An exact id outranks any pattern; among patterns, the longer prefix is more specific.
  const modelScore = (r: T) => (r.model.endsWith('*') ? r.model.length - 1 : Number.MAX_SAFE_INTEGER)
  const better = (a: T, b: T) =>
    modelScore(a) - modelScore(b) || Number(a.contextTier !== null) - Number(b.contextTier !== null) || Number(a.inferenceGeo !== null) - Number(b.inferenceGeo !== null)
  // A row's tier or geo that no rate names is priced as an unnamed one (only "any" rates apply).
  const values = (f: (r: T) => string | null) => [null, ...new Set(matching.map(f).filter((v) => v !== null))]
  const picked = new Set<T>()
  for (const contextTier of values((r) => r.contextTier))
    for (const inferenceGeo of values((r) => r.inferenceGeo)) {
      const best = new Map<string, T>()
      for (const r of matching) {
        if ((r.contextTier !== null && r.contextTier !== contextTier) || (r.inferenceGeo !== null && r.inferenceGeo !== inferenceGeo)) continue
        const k = JSON.stringify([r.provider, r.serviceTier, r.batch])
        const cur = best.get(k)
        if (!cur || better(r, cur) > 0) best.set(k, r)
      }
      for (const r of best.values()) picked.add(r)
    }
  return matching.filter((r) => picked.has(r))
}
