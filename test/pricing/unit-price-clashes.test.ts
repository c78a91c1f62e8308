import fc from 'fast-check'
import t from 'tap'
import type { UnitPrice } from '../../src/db/rate-columns.js'
import { ambiguousUnitPrices } from '../../src/pricing/prices.js'

// The rule written the slow, obvious way: unit prices i and j < i clash when they price the same resource
// with equally many attributes and disagree on none of the attributes both have (own keys: an attribute named
// `constructor` is the row's, not Object's). Each clashing unit price is named with the first one before it.
function clashesByPairs(list: readonly UnitPrice[]): [number, number][] {
  const out: [number, number][] = []
  list.forEach((a, i) => {
    const ka = Object.keys(a.attributes)
    for (let j = 0; j < i; j++) {
      const b = list[j]!
      const disagree = ka.some((k) => Object.hasOwn(b.attributes, k) && b.attributes[k] !== a.attributes[k])
      if (a.resource === b.resource && ka.length === Object.keys(b.attributes).length && !disagree) {
        out.push([j, i])
        break
      }
    }
  })
  return out
}

// Few resources, keys and values, so that clashes, near misses and mixed key sets are all frequent; `constructor`
// and `toString` are keys an attribute may have and Object has too.
const unitPrice = fc.record({
  resource: fc.constantFrom('images', 'characters'),
  attributes: fc
    .uniqueArray(fc.tuple(fc.constantFrom('size', 'quality', 'constructor', 'toString'), fc.constantFrom('a', 'b')), { maxLength: 3, selector: ([k]) => k })
    .map((entries) => Object.fromEntries(entries.sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)))),
  price: fc.constant('1'),
})

t.test('names exactly the clashes a comparison of every pair finds, with the first earlier unit price', async (t) => {
  await fc.assert(
    fc.property(fc.array(unitPrice, { maxLength: 40 }), (list) => {
      t.same(ambiguousUnitPrices(list), clashesByPairs(list))
    }),
    { numRuns: 500, seed: 20261205 },
  )
})

t.test('a unit price with a `constructor` attribute clashes with one of another key of equally many attributes', async (t) => {
  // A row {constructor: x, size: 1} matches both with one attribute each: the card could not say which price applies.
  const list: UnitPrice[] = [
    { resource: 'images', attributes: { constructor: 'x' }, price: '1' },
    { resource: 'images', attributes: { size: '1' }, price: '2' },
  ]
  t.same(ambiguousUnitPrices(list), [[0, 1]])
})

t.test('rates of 1,000 distinct unit prices are checked by lookups, not by comparing every pair', async (t) => {
  // Every pair compared took 13 s for a body of 100 such rates (the schema's limits allow it within the body
  // limit), and every other request of the server waited. Timed against the pairwise rule on the same lists,
  // so that a loaded machine slows both alike: looked up, it is many times faster.
  const lists = Array.from({ length: 20 }, (_, r) =>
    Array.from({ length: 1000 }, (_, j): UnitPrice => ({ resource: 'images', attributes: { quality: `q${(j + r) % 7}`, size: `s${j}` }, price: '0.01' })),
  )
  const time = (check: (list: readonly UnitPrice[]) => [number, number][]) => {
    const started = performance.now()
    for (const list of lists) t.equal(check(list).length, 0)
    return performance.now() - started
  }
  const pairs = time(clashesByPairs)
  const lookups = time(ambiguousUnitPrices)
  t.ok(lookups * 4 < pairs, `lookups took ${Math.round(lookups)} ms, every pair ${Math.round(pairs)} ms`)
})
