import t from 'tap'
import type { NewRate } from '../../src/db/queries/rate-cards.js'
import { defaultCardRates, ensureDefaultCard } from '../../src/pricing/catalog/default-card.js'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'
import { postRates } from '../factories/rate-cards.js'

/**
 * A refresh of `default` from a newer catalog against rates an admin posted to that card by hand. The
 * import never ran the overlap check: a catalog rate at the start of an admin's rate superseded it, and
 * one whose explicit range crossed an admin's range was written beside it, an overlap no POST could make.
 * The admin's rates now win; each catalog rate left out is named, with the rate it would overlap.
 */
void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key } = await tenantWithKey(app, ['read'])
  const inputAt = async (model: string, at: string) => {
    const res = await app.inject({ method: 'GET', url: `/v1/rate-cards/default/rates?model=${model}&at=${at}`, headers: bearer(key) })
    t.equal(res.statusCode, 200, res.body.slice(0, 300))
    // Only the model's own rates: `*` (per-unit resource prices on default) matches every model.
    return (res.json().data as { model: string; prices: { input?: string } }[]).filter((r) => r.model === model).map((r) => r.prices.input)
  }
  const own = await postRates(app, 'default', [
    { model: 'in-house-a', effective_from: '2025-01-01T00:00:00Z', prices: { input: '1' } },
    { model: 'in-house-b', effective_from: '2025-01-01T00:00:00Z', effective_to: '2025-03-01T00:00:00Z', prices: { input: '2' } },
  ])
  t.equal(own.statusCode, 201, own.body.slice(0, 300))
  const [a, b] = own.json().rates as { id: number }[]

  const installed = defaultCardRates()
  const source = installed[0]!.source
  const rate = (model: string, from: string, to: string | null, input: string): NewRate => ({
    provider: 'openai', model, serviceTier: 'default', batch: false, contextTier: null, inferenceGeo: null,
    effectiveFrom: new Date(from), effectiveTo: to === null ? null : new Date(to), prices: { input }, unitPrices: [], supersedes: null, source,
  })
  // A newer catalog that lists the admin's models too, and one model no one has priced.
  const newer = [
    ...installed,
    rate('in-house-a', '2025-01-01T00:00:00Z', null, '5'),
    rate('in-house-b', '2025-02-01T00:00:00Z', '2025-04-01T00:00:00Z', '6'),
    rate('in-house-c', '2025-01-01T00:00:00Z', null, '7'),
  ]

  t.test('the admin’s rates win; the overlapping catalog rates are named, the rest is imported', async (t) => {
    const result = await ensureDefaultCard(app.testDb, newer)
    t.equal(result.inserted, 1, 'only in-house-c is written')
    t.same(await inputAt('in-house-a', '2025-02-01T00:00:00Z'), ['1'])
    t.same(await inputAt('in-house-b', '2025-02-15T00:00:00Z'), ['2'])
    t.same(await inputAt('in-house-b', '2025-03-15T00:00:00Z'), [], 'the admin’s range ends; nothing of the catalog’s range was written')
    t.same(await inputAt('in-house-c', '2025-02-01T00:00:00Z'), ['7'])
    t.equal(result.skipped.length, 2, result.skipped.join('\n'))
    t.match(result.skipped, [new RegExp(`in-house-a .*overlaps stored rate ${a!.id} .*not imported by the catalog`), new RegExp(`in-house-b .*overlaps stored rate ${b!.id} `)])
  })

  t.test('a refresh again writes nothing and names the same rates', async (t) => {
    const again = await ensureDefaultCard(app.testDb, newer)
    t.equal(again.inserted, 0)
    t.equal(again.skipped.length, 2)
    t.same(await inputAt('in-house-a', '2025-02-01T00:00:00Z'), ['1'])
  })
})
