import { Decimal } from 'decimal.js'
import fc from 'fast-check'
import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'
import { addCost, expectedCost, findRate, zeroCost } from '../factories/expected.js'
import { seedBuckets, seedCard, type SeedBucket, type SeedRate } from '../factories/usage.js'

// Property: for random usage (every token class, tiers, batch) and random effective-dated rates with a
// correction recorded later, the GraphQL TOTAL cost equals an independent decimal.js computation both now
// and `pricingAsOf` before the correction — and unpriced tokens are counted, never priced at $0. The range
// is the month (the price change inside it: each row priced by its own rate segment) or starts or ends
// exactly at the change (no change strictly inside: the whole range is one segment, src/pricing/cost-sql.ts
// `oneSegmentSql`).
const MODELS = ['img-model-2025-01-01', 'img-model-mini-2025-01-01']
const price = fc.integer({ min: 0, max: 50_000 }).map((n) => new Decimal(n).div(1000).toString())
const prices = fc.record(
  { input: price, cached_input: price, cache_write: price, output: price, input_image: price, cached_input_image: price, output_image: price, input_audio: price },
  { requiredKeys: [] },
)
const count = fc.integer({ min: 0, max: 2_000_000 })
const bucket = fc.record({
  day: fc.integer({ min: 0, max: 29 }),
  model: fc.constantFrom(...MODELS),
  serviceTier: fc.constantFrom('default', 'flex', 'priority'),
  batch: fc.constantFrom(true, false, null),
  inText: count, inAudio: count, inImage: count, cachedText: count, cachedImage: count, cacheWrite: count, outText: count, outImage: count,
})

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const early = new Date('2025-01-01T00:00:00Z')
  const later = new Date('2025-03-01T00:00:00Z')
  let run = 0
  await fc.assert(
    fc.asyncProperty(
      fc.array(bucket, { minLength: 1, maxLength: 12 }),
      fc.record({ a: prices, b: prices, c: prices, fix: prices, changeDay: fc.integer({ min: 1, max: 28 }), tier: fc.constantFrom('default', 'flex'),
        range: fc.constantFrom('month', 'from change', 'to change') }),
      async (raw, p) => {
        run++
        const { tenantId, key } = await tenantWithKey(app, ['read'])
        const rows: SeedBucket[] = raw.map((b, i) => {
          const start = new Date(Date.parse('2025-10-01T00:00:00Z') + b.day * 86_400_000 + i * 60_000)
          return { ...b, start, end: new Date(start.getTime() + 60_000), apiKeyId: `k${i}` }
        })
        await seedBuckets(app.testDb, tenantId, rows)
        const change = new Date(Date.parse('2025-10-01T00:00:00Z') + p.changeDay * 86_400_000)
        const rates: SeedRate[] = [
          { model: 'img-model*', serviceTier: p.tier, effectiveFrom: new Date('2025-01-01T00:00:00Z'), recordedAt: early, prices: p.a },
          { model: 'img-model-mini*', serviceTier: p.tier, effectiveFrom: new Date('2025-01-01T00:00:00Z'), recordedAt: early, prices: p.b },
          { model: 'img-model-mini*', serviceTier: p.tier, effectiveFrom: change, recordedAt: early, prices: p.c },
          { model: 'img-model-mini*', serviceTier: p.tier, batch: true, effectiveFrom: new Date('2025-01-01T00:00:00Z'), recordedAt: early, prices: p.a },
        ]
        const ids = await seedCard(app.testDb, `prop-${tenantId}-${run}`, rates)
        // A correction recorded later supersedes the price change.
        const fix: SeedRate = { model: 'img-model-mini*', serviceTier: p.tier, effectiveFrom: change, recordedAt: later, supersedes: ids[2]!, prices: p.fix }
        const [fixId] = await app.testDb.query<{ id: number }>(
          `insert into rates (card_id, provider, model, service_tier, batch, effective_from, input, cached_input, cache_write, output,
             input_image, cached_input_image, output_image, input_audio, supersedes, recorded_at)
           select card_id, 'openai', $2, $3, false, $4, $5::numeric, $6::numeric, $7::numeric, $8::numeric, $9::numeric, $10::numeric, $11::numeric, $12::numeric, $13, $14
           from rates where id = $1 returning id`,
          [ids[2], fix.model, p.tier, change.toISOString(), p.fix.input ?? null, p.fix.cached_input ?? null, p.fix.cache_write ?? null, p.fix.output ?? null,
            p.fix.input_image ?? null, p.fix.cached_input_image ?? null, p.fix.output_image ?? null, p.fix.input_audio ?? null, ids[2], later.toISOString()],
        )
        const all = [...rates.map((r, i) => ({ ...r, id: ids[i]! })), { ...fix, id: fixId!.id }]
        const from = p.range === 'from change' ? change : new Date('2025-10-01T00:00:00Z')
        const to = p.range === 'to change' ? change : new Date('2025-11-01T00:00:00Z')
        const inRange = rows.filter((b) => b.start >= from && b.start < to)
        for (const asOf of [new Date('2025-02-01T00:00:00Z'), new Date()]) {
          const res = await app.inject({
            method: 'POST', url: '/graphql', headers: bearer(key),
            payload: {
              query: `query($asOf: DateTime, $card: String, $from: DateTime!, $to: DateTime!) { usage(from: $from, to: $to, window: TOTAL, rateCard: $card, pricingAsOf: $asOf) {
                totals { cost { total input cachedInput cacheWrite output complete unpricedTokens } } } }`,
              variables: { asOf, card: `prop-${tenantId}-${run}`, from, to },
            },
          })
          const cost = (res.json() as { data: { usage: { totals: { cost: Record<string, string | number | boolean> } } } }).data.usage.totals.cost
          const e = inRange.reduce((a, b) => addCost(a, expectedCost(b, findRate(b, all, asOf))), zeroCost())
          if (!new Decimal(cost.total as string).equals(e.total) || cost.unpricedTokens !== e.unpriced || cost.complete !== (e.unpriced === 0))
            throw new Error(`${p.range}, asOf ${asOf.toISOString()}: got ${JSON.stringify(cost)}, expected ${e.total.toString()} / ${e.unpriced}`)
          for (const f of ['input', 'cachedInput', 'cacheWrite', 'output'] as const)
            if (!new Decimal(cost[f] as string).equals(e[f])) throw new Error(`${f}: ${String(cost[f])} ≠ ${e[f].toString()}`)
        }
      },
    ),
    { numRuns: 24, seed: 20251123 },
  )
  t.pass(`${run} random cards and datasets priced exactly, now and as of before a correction`)
})
