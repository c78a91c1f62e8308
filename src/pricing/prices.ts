import { canonicalDecimal } from '../decimal/decimal-text.js'
// The price classes themselves are the `rates` table's columns (src/db/rate-columns.ts); these helpers
// compare and check prices for the pricing layer.
import { PRICE_CLASSES, type Prices, type UnitPrice } from '../db/rate-columns.js'

/** Prices with every class canonicalised; absent classes stay absent. */
export function canonicalPrices(prices: Prices): Prices {
  const out: Prices = {}
  for (const c of PRICE_CLASSES) {
    const v = prices[c]
    if (v !== undefined && v !== null) out[c] = canonicalDecimal(v)
  }
  return out
}

export function samePrices(a: Prices, b: Prices): boolean {
  return PRICE_CLASSES.every((c) => (a[c] === undefined ? b[c] === undefined : b[c] !== undefined && canonicalDecimal(a[c]) === canonicalDecimal(b[c])))
}

/**
 * Two unit prices of one rate are ambiguous when a row could match both with equally many attributes:
 * same resource, same number of attributes, and no attribute on which they disagree. Each ambiguous
 * unit price is named once, with the first earlier one it clashes with: every pair of 1,000 equal unit
 * prices (499,500 problems per rate) took the event loop for seconds and gigabytes of memory.
 *
 * Comparing every pair still took the event loop for 13 s on a body of 100 rates of 1,000 distinct unit
 * prices (every other request of the server waited), so each unit price is looked up, not compared: within
 * a (resource, attribute count) group, the earlier unit prices of each key set are indexed by their values
 * on the keys they share with the new one's key set (first index kept) — one lookup per key set of the
 * group. Own keys only: an attribute named `constructor` is not Object's.
 */
export function ambiguousUnitPrices(list: readonly UnitPrice[]): [number, number][] {
  const out: [number, number][] = []
  const groups = new Map<string, Map<string, KeySet>>()
  list.forEach((u, i) => {
    const keys = Object.keys(u.attributes).sort()
    const sig = JSON.stringify(keys)
    const groupKey = JSON.stringify([u.resource, keys.length])
    let group = groups.get(groupKey)
    if (!group) groups.set(groupKey, (group = new Map()))
    let first = -1
    for (const set of group.values()) {
      const j = set.indexFor(sig, keys, list).get(project(u, set.sharedWith(sig, keys)))
      if (j !== undefined && (first < 0 || j < first)) first = j
    }
    if (first >= 0) out.push([first, i])
    let own = group.get(sig)
    if (!own) group.set(sig, (own = new KeySet(keys)))
    own.add(i, list)
  })
  return out
}

/** A unit price's values on some keys, as one lookup key. */
const project = (u: UnitPrice, keys: readonly string[]): string => JSON.stringify(keys.map((k) => u.attributes[k]))

/** The unit prices (by index, in order) of one key set, indexed by their values on the keys shared with other key sets. */
class KeySet {
  private readonly members: number[] = []
  private readonly shared = new Map<string, string[]>()
  private readonly indexes = new Map<string, Map<string, number>>()
  constructor(private readonly keys: readonly string[]) {}

  sharedWith(sig: string, keys: readonly string[]): string[] {
    let s = this.shared.get(sig)
    if (!s) this.shared.set(sig, (s = this.keys.filter((k) => keys.includes(k))))
    return s
  }

  /** Earlier members by their values on the keys shared with `sig`'s key set (the first index of each). */
  indexFor(sig: string, keys: readonly string[], list: readonly UnitPrice[]): Map<string, number> {
    let index = this.indexes.get(sig)
    if (!index) {
      const shared = this.sharedWith(sig, keys)
      index = new Map()
      for (const m of this.members) {
        const k = project(list[m]!, shared)
        if (!index.has(k)) index.set(k, m)
      }
      this.indexes.set(sig, index)
    }
    return index
  }

  add(i: number, list: readonly UnitPrice[]): void {
    this.members.push(i)
    for (const [sig, index] of this.indexes) {
      const k = project(list[i]!, this.shared.get(sig)!)
      if (!index.has(k)) index.set(k, i)
    }
  }
}
