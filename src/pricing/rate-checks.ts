import type { ProblemItem } from '../errors.js'
import type { NewRate, StoredRate } from '../db/queries/rate-cards.js'
import { ambiguousUnitPrices } from './prices.js'
import { keyOf, overlaps, sameKey, supersededIds, type RateKey } from './rate-timeline.js'

const describeKey = (r: RateKey) =>
  `${r.provider} ${r.model} tier=${r.serviceTier} batch=${r.batch} context_tier=${r.contextTier ?? 'any'} inference_geo=${r.inferenceGeo ?? 'any'}`
const describeRange = (r: { effectiveFrom: Date; effectiveTo: Date | null }) =>
  `[${r.effectiveFrom.toISOString()}, ${r.effectiveTo ? r.effectiveTo.toISOString() : '…'})`

export interface RateCheckResult {
  /** Request errors (400): a `supersedes` that names no rate of this card, or changes the key. */
  invalid: ProblemItem[]
  /** Conflicts with stored data or within the request (409), each naming both rates. */
  conflicts: ProblemItem[]
}

/**
 * Checks new rates against the card's stored rates and each other. A rate is exempt from the overlap
 * check against the rate it supersedes, and against rates already superseded (they have left the
 * current timeline), so a correction of a correction is possible.
 */
export function checkNewRates(stored: readonly StoredRate[], incoming: readonly NewRate[]): RateCheckResult {
  const invalid: ProblemItem[] = []
  const conflicts: ProblemItem[] = []
  const byId = new Map(stored.map((s) => [s.id, s]))
  const gone = supersededIds(stored)
  const supersededBy = new Map(stored.flatMap((s) => (s.supersedes === null ? [] : [[s.supersedes, s.id] as const])))
  const claimed = new Map<number, number>()

  incoming.forEach((r, index) => {
    for (const [a, b] of ambiguousUnitPrices(r.unitPrices))
      conflicts.push({
        index,
        path: `unit_prices.${b}`,
        message: `unit_prices[${b}] and unit_prices[${a}] (${r.unitPrices[b]!.resource}) could match the same row with equally many attributes`,
      })
    if (r.supersedes !== null) {
      const target = byId.get(r.supersedes)
      if (!target) {
        invalid.push({ index, path: 'supersedes', message: `rate ${r.supersedes} is not a rate of this card` })
      } else if (!sameKey(target, r)) {
        invalid.push({
          index,
          path: 'supersedes',
          message: `must keep the superseded rate's provider, model, service_tier, batch, context_tier and inference_geo (rate ${target.id} is ${describeKey(target)})`,
        })
      } else if (supersededBy.has(target.id)) {
        conflicts.push({ index, path: 'supersedes', message: `rate ${target.id} is already superseded by rate ${supersededBy.get(target.id)}; supersede that one instead` })
      } else if (claimed.has(target.id)) {
        conflicts.push({ index, path: 'supersedes', message: `rates[${claimed.get(target.id)}] also supersedes rate ${target.id}` })
      } else {
        claimed.set(target.id, index)
      }
    }
    for (const s of stored) {
      if (s.id === r.supersedes || gone.has(s.id) || keyOf(s) !== keyOf(r) || !overlaps(s, r)) continue
      conflicts.push({
        index,
        path: 'effective_from',
        message: `${describeKey(r)} ${describeRange(r)} overlaps stored rate ${s.id} ${describeRange(s)}`,
      })
    }
    for (let j = 0; j < index; j++) {
      const o = incoming[j]!
      if (keyOf(o) !== keyOf(r) || !overlaps(o, r)) continue
      conflicts.push({
        index,
        path: 'effective_from',
        message: `${describeKey(r)} ${describeRange(r)} overlaps rates[${j}] ${describeRange(o)}`,
      })
    }
  })
  return { invalid, conflicts }
}
