import { Decimal } from 'decimal.js'
import fc from 'fast-check'
import t from 'tap'
import type { Dimension } from '../../src/usage/dimensions.js'
import { queryUsagePage, type UsageArgs } from '../../src/usage/usage-service.js'
import type { Window } from '../../src/usage/windows.js'
import { costOf, createTestCard, seedResources, text, unpricedList, type OracleRow, type SeedResource, type TestRate } from '../factories/resources.js'
import { seedBuckets, type SeedBucket } from '../factories/usage.js'
import { build, eachEngine, tenantWithKey } from '../helpers.js'

// Property: random mixes of token buckets and resource rows (storage of odd lengths included), a random
// card (token and unit prices, some missing, tier- and geo-specific rates), any grouping and window:
// TOTAL cost = the sum of the rows = the independent decimal.js computation, unpriced quantities
// listed exactly, and the rollup path = the base-table path.

const Dec = Decimal.clone({ precision: 200 })
const T0 = Date.parse('2026-01-05T00:00:00Z')
const HOUR = 3_600_000
const MODELS = ['m-a', 'm-b-1', 'm-b-2', null] as const
const price = fc.option(fc.integer({ min: 0, max: 90_000 }).map((n) => new Dec(n).div(1000).toFixed()), { nil: undefined })
const count = fc.integer({ min: 0, max: 3_000_000 })
const dims = {
  hour: fc.integer({ min: 0, max: 71 }),
  model: fc.constantFrom(...MODELS),
  provider: fc.constantFrom('openai', 'anthropic'),
  contextTier: fc.constantFrom(null, '0-200k', '200k-1M'),
  inferenceGeo: fc.constantFrom(null, 'us'),
  projectId: fc.constantFrom(null, 'p1'),
}
const tokenBucket = fc.record({ ...dims, inText: count, cachedText: count, cacheWrite: count, cacheWrite1h: count, outText: count, inAudio: count })
const resourceRow = fc.record({
  ...dims,
  seconds: fc.constantFrom(3600, 86_400, 7 * 60 + 13, 5 * 3600 + 1),
  resource: fc.constantFrom('images', 'storage_bytes', 'web_search_calls', 'characters'),
  size: fc.constantFrom(undefined, 'small', 'large'),
  quantity: fc.oneof(fc.bigInt({ min: 0n, max: 10n ** 13n }).map(String), fc.tuple(fc.nat(999), fc.nat(999_999)).map(([a, b]) => `${a}.${b}`)),
})
const unitPrices = fc.record({ images: price, imagesLarge: price, storage: price, search: price })
const tokenPrices = fc.record({ input: price, cached_input: price, cache_write: price, cache_write_1h: price, output: price, input_audio: price })

type Prices = Record<string, string | undefined>
type Units = { images?: string | undefined; imagesLarge?: string | undefined; storage?: string | undefined; search?: string | undefined }

function card(p: { any: Prices; b: Prices; tier: Prices; units: Units; geoUnits: Units }): TestRate[] {
  const defined = (o: Prices) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as TestRate['prices']
  const units = (u: Units) =>
    [
      u.images && { resource: 'images', price: u.images },
      u.imagesLarge && { resource: 'images', attributes: { size: 'large' }, price: u.imagesLarge },
      u.storage && { resource: 'storage_bytes', price: u.storage },
      u.search && { resource: 'web_search_calls', price: u.search },
    ].filter((x): x is { resource: string; price: string } => !!x)
  return ['openai', 'anthropic'].flatMap((provider) => [
    { provider, model: '*', prices: defined(p.any), unit_prices: units(p.units) },
    { provider, model: '*', inference_geo: 'us', prices: defined(p.any), unit_prices: units(p.geoUnits) },
    { provider, model: 'm-b*', prices: defined(p.b), unit_prices: units(p.units) },
    { provider, model: 'm-b*', context_tier: '200k-1M', prices: defined(p.tier) },
  ])
}

const DIMS: Dimension[] = ['PROVIDER', 'MODEL', 'RESOURCE', 'CONTEXT_TIER', 'INFERENCE_GEO', 'PROJECT', 'MODALITY', 'SOURCE']

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  await fc.assert(
    fc.asyncProperty(
      fc.array(tokenBucket, { maxLength: 8 }),
      fc.array(resourceRow, { minLength: 1, maxLength: 10 }),
      fc.record({ any: tokenPrices, b: tokenPrices, tier: tokenPrices, units: unitPrices, geoUnits: unitPrices }),
      fc.record({ groupBy: fc.subarray(DIMS), window: fc.constantFrom<Window>('TOTAL', 'DAY', 'HOUR'), attrs: fc.boolean() }),
      async (tokens, resources, prices, q) => {
        const { tenantId } = await tenantWithKey(app, ['read'])
        const rates = card(prices)
        await createTestCard(app, tenantId, `prop-${tenantId}`, rates)
        const buckets: SeedBucket[] = tokens.map((b, i) => {
          const start = new Date(T0 + b.hour * HOUR + i * 60_000)
          return { ...b, start, end: new Date(start.getTime() + 60_000), apiKeyId: `k${i}` }
        })
        const rows: SeedResource[] = resources.map((r, i) => {
          const start = new Date(T0 + r.hour * HOUR)
          return { ...r, start, end: new Date(start.getTime() + r.seconds * 1000), attributes: { n: String(i), ...(r.size ? { size: r.size } : {}) } }
        })
        await seedBuckets(app.testDb, tenantId, buckets)
        await seedResources(app.testDb, tenantId, rows)

        const oracle = costOf(
          [
            ...tokens.map((b): OracleRow => ({
              ...b,
              classes: { in_text: b.inText, cached_text: b.cachedText, cache_write: b.cacheWrite, cache_write_1h: b.cacheWrite1h, out_text: b.outText, in_audio: b.inAudio },
            })),
            ...resources.map((r, i): OracleRow => ({ ...r, attributes: rows[i]!.attributes!, seconds: r.seconds })),
          ],
          rates,
        )
        const args = (rollups: boolean): UsageArgs => ({
          tenantId, from: new Date(T0), to: new Date(T0 + 72 * HOUR), window: q.window, timeZone: 'UTC', groupBy: q.groupBy, groupByLabels: [],
          groupByAttributes: q.attrs ? ['size'] : [], filter: {}, rateCard: `prop-${tenantId}`, first: 1000, rollups,
        })
        const viaRollup = await queryUsagePage(app.testDb, args(true), { maxGroups: 100_000 })
        const viaBase = await queryUsagePage(app.testDb, args(false), { maxGroups: 100_000 })
        const sum = (f: (c: (typeof viaBase.rows)[number]['cost']) => string) => text(viaBase.rows.reduce((s, r) => s.plus(f(r.cost)), new Dec(0)))
        const c = viaBase.totals.cost
        const checks = {
          total: c.total === text(oracle.total),
          rowsTotal: sum((x) => x.total) === c.total,
          resources: c.resources === text(oracle.resources),
          rowsResources: sum((x) => x.resources) === c.resources,
          unpricedTokens: c.unpricedTokens === oracle.unpricedTokens,
          unpricedQuantity: JSON.stringify(c.unpricedQuantity) === JSON.stringify(unpricedList(oracle)),
          complete: c.complete === (oracle.unpricedTokens === 0 && oracle.unpriced.size === 0),
          rollupRows: JSON.stringify(viaRollup.rows) === JSON.stringify(viaBase.rows),
          rollupTotals: JSON.stringify(viaRollup.totals) === JSON.stringify(viaBase.totals),
        }
        const failed = Object.entries(checks).filter(([, ok]) => !ok).map(([k]) => k)
        if (failed.length) throw new Error(`${failed.join(', ')}: ${JSON.stringify({ totals: viaBase.totals, oracle: text(oracle.total), rollup: viaRollup.rows, base: viaBase.rows })}`)
        return true
      },
    ),
    { numRuns: engine === 'pglite' ? 30 : 40 },
  )
  t.pass('TOTAL = Σ rows = oracle; rollup = base')
})
