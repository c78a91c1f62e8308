import { Decimal } from 'decimal.js'
import fc from 'fast-check'
import t from 'tap'
import { seedBuckets, seedCard } from '../factories/usage.js'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

/**
 * Property: for random usage, a bill equal to the computed cost (a decimal.js oracle from the card's
 * prices) except on chosen line items, which are off by a random factor 1 ± noise, is flagged MISMATCH on
 * exactly those items and MATCH everywhere else — through ingest, storage, pricing and reconciliation.
 */

const D0 = Date.UTC(2025, 9, 1) / 1000
const DAY = 86_400
const CARD: Record<string, Record<'input' | 'cached_input' | 'output', string>> = {
  'model-a': { input: '0.15', cached_input: '0.075', output: '0.6' },
  'model-b': { input: '2.5', cached_input: '1.25', output: '10' },
  'model-c': { input: '1.1', cached_input: '0.275', output: '4.4' },
}
const CLASSES = [
  ['inText', 'input', 'input'],
  ['cachedText', 'cached input', 'cached_input'],
  ['outText', 'output', 'output'],
] as const

const usageArb = fc.uniqueArray(
  fc.record({
    day: fc.integer({ min: 0, max: 2 }),
    model: fc.constantFrom(...Object.keys(CARD)),
    // 0 or at least 1,000 tokens: noise of ≥ 5% on the cheapest item is then well above the tolerance.
    tokens: fc.tuple(...CLASSES.map(() => fc.oneof(fc.constant(0), fc.integer({ min: 1000, max: 50_000_000 })))),
    noisy: fc.tuple(...CLASSES.map(() => fc.option(fc.tuple(fc.boolean(), fc.integer({ min: 5, max: 80 })), { freq: 3 }))),
  }),
  { selector: (u) => `${u.day}/${u.model}`, minLength: 1, maxLength: 6 },
)

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { tenantId, key } = await tenantWithKey(app, ['ingest', 'read'])
  await seedCard(app.testDb, 'prop', Object.entries(CARD).map(([model, prices]) => ({ model, effectiveFrom: new Date(0), prices })), tenantId)
  let runs = 0
  await fc.assert(
    fc.asyncProperty(usageArb, async (usage) => {
      runs++
      await app.testDb.query('delete from usage_buckets where tenant_id = $1', [tenantId])
      await app.testDb.query('delete from billed_costs where tenant_id = $1', [tenantId])
      await seedBuckets(
        app.testDb,
        tenantId,
        usage.map((u) => ({
          start: new Date((D0 + u.day * DAY) * 1000),
          end: new Date((D0 + (u.day + 1) * DAY) * 1000),
          accountId: 'org',
          model: u.model,
          source: 'openai_api',
          ...Object.fromEntries(CLASSES.map(([k], i) => [k, u.tokens[i]])),
        })),
      )
      const expected = new Set<string>()
      const byDay = new Map<number, unknown[]>()
      for (const u of usage)
        CLASSES.forEach(([, item, price], i) => {
          const tokens = u.tokens[i]!
          if (tokens === 0) return
          let amount = new Decimal(tokens).times(CARD[u.model]![price]).div(1e6)
          const noise = u.noisy[i]
          if (noise) {
            amount = amount.times(new Decimal(100).plus(noise[0] ? noise[1] : -noise[1]).div(100))
            expected.add(`${u.day}|${u.model}, ${item}`)
          }
          const list = byDay.get(u.day) ?? []
          list.push({ amount: { value: amount.toFixed(), currency: 'usd' }, line_item: `${u.model}, ${item}`, project_id: null, quantity: tokens, quantity_unit: 'tokens' })
          byDay.set(u.day, list)
        })
      const page = { data: [...byDay].map(([day, results]) => ({ start_time: D0 + day * DAY, end_time: D0 + (day + 1) * DAY, results })) }
      const posted = await app.inject({ method: 'POST', url: '/v1/billing/costs?account_id=org', headers: bearer(key), payload: page })
      if (posted.statusCode !== 200) throw new Error(posted.body)
      const res = await app.inject({
        method: 'GET',
        url: `/v1/reconciliation?from=${D0}&to=${D0 + 3 * DAY}&group_by=line_item&rate_card=prop&first=1000`,
        headers: bearer(key),
      })
      const rows = (res.json() as { data: { window_start: string; line_item: string; status: string }[] }).data
      const flagged = new Set(rows.filter((r) => r.status !== 'MATCH').map((r) => `${(Date.parse(r.window_start) / 1000 - D0) / DAY}|${r.line_item}`))
      if (rows.some((r) => r.status !== 'MATCH' && r.status !== 'MISMATCH')) throw new Error(`unexpected status: ${res.body}`)
      t.same([...flagged].sort(), [...expected].sort())
      return [...flagged].sort().join() === [...expected].sort().join()
    }),
    { numRuns: engine === 'pglite' ? 25 : 15 },
  )
  t.ok(runs > 0)
})
