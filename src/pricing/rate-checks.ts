import type { ProblemItem } from '../errors.js'
import type { NewRate, RateKey, StoredRate } from '../db/queries/rate-cards.js'
import { ambiguousUnitPrices } from './prices.js'
import { keyOf, overlaps, sameKey, supersededIds } from './rate-timeline.js'

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
 * Checks new rates against the card's stored rates and each other, as the card will stand once the
 * whole request is written: rates already superseded, and rates this request supersedes, have left the
 * current timeline and overlap nothing (so a correction of a correction is possible, and one request
 * may move a rate's start and fill the start it left).
 */
export function checkNewRates(stored: readonly StoredRate[], incoming: readonly NewRate[]): RateCheckResult {
  const invalid: ProblemItem[] = []
  const conflicts: ProblemItem[] = []
  const byId = new Map(stored.map((s) => [s.id, s]))
  const supersededBy = new Map(stored.flatMap((s) => (s.supersedes === null ? [] : [[s.supersedes, s.id] as const])))
  const claimed = new Map<number, number>()
  const earlierByKey = new Map<string, { rate: NewRate; index: number }[]>()

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
  })
  // Second pass, once every `supersedes` of the request is known: a rate the request retires is out of
  // the final timeline, whichever incoming rate comes first.
  const withStored = storedOverlaps(stored, incoming, new Set(claimed.keys()))
  let next = 0
  incoming.forEach((r, index) => {
    const key = keyOf(r)
    for (; next < withStored.length && withStored[next]!.index === index; next++)
      conflicts.push({ index, path: 'effective_from', message: describeOverlap(r, withStored[next]!.rate) })
    const earlier = earlierByKey.get(key) ?? []
    if (earlier.length === 0) earlierByKey.set(key, earlier)
    for (const { rate: o, index: j } of earlier) {
      if (!overlaps(o, r)) continue
      conflicts.push({
        index,
        path: 'effective_from',
        message: `${describeKey(r)} ${describeRange(r)} overlaps rates[${j}] ${describeRange(o)}`,
      })
    }
    earlier.push({ rate: r, index })
  })
  return { invalid, conflicts }
}

/** "… overlaps stored rate N …": names both rates (key and range) for a 409 or a skipped catalog rate. */
export const describeOverlap = (r: NewRate, s: StoredRate): string =>
  `${describeKey(r)} ${describeRange(r)} overlaps stored rate ${s.id} ${describeRange(s)}`

/**
 * The card's stored rates each incoming rate overlaps once all of them are written, in incoming order:
 * rates already superseded, and those the incoming rates retire (`retired`), have left the timeline.
 */
export function storedOverlaps(stored: readonly StoredRate[], incoming: readonly NewRate[], retired: ReadonlySet<number>): { index: number; rate: StoredRate }[] {
  const gone = supersededIds(stored)
  // Overlaps only happen within one timeline, so each rate is compared with its own timeline's rates:
  // comparing every pair (and serialising both keys each time) took 80 s of event loop for 10,000 rates.
  const byKey = groupByKey(stored.filter((s) => !gone.has(s.id) && !retired.has(s.id)))
  const out: { index: number; rate: StoredRate }[] = []
  incoming.forEach((r, index) => {
    for (const s of byKey.get(keyOf(r)) ?? []) if (overlaps(s, r)) out.push({ index, rate: s })
  })
  return out
}

function groupByKey<T extends RateKey>(rates: readonly T[]): Map<string, T[]> {
  const out = new Map<string, T[]>()
  for (const r of rates) {
    const key = keyOf(r)
    const list = out.get(key)
    if (list) list.push(r)
    else out.set(key, [r])
  }
  return out
}
