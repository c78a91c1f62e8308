import t from 'tap'
import { admin, bearer, build, eachEngine, graphqlData, postCreatedEvents, tenantWithKey } from '../helpers.js'

/**
 * `Cost.unpricedTokens` says how many tokens had no price, not in which class: a client could not tell a
 * class priced at exactly 0 from one with no rate once any other class was unpriced (the dashboard read
 * such a $0 class as "unpriced"). `Cost.unpricedTokensByClass` splits the count by the classes of the
 * amounts, on usage rows (with and without MODALITY), usage totals, events and their totals, and adds up
 * to `unpricedTokens` everywhere.
 */

const PROVIDER = 'byclass'
// Cached input is priced at exactly 0; cache writes have no rate; input and output are priced.
const RATE = { provider: PROVIDER, model: 'zero-cached', effective_from: '2026-01-01T00:00:00Z', prices: { input: '1', cached_input: '0', output: '2' } }
const AT = '2026-06-02T10:00:00Z'
const bucket = (model: string, tokens: Record<string, number>) => ({
  start_time: '2026-06-02T10:00:00Z', end_time: '2026-06-02T11:00:00Z', provider: PROVIDER, model, num_model_requests: 1, ...tokens,
})
const BUCKETS = [
  bucket('zero-cached', { input_tokens: 1_000_000, input_cached_tokens: 200_000, input_cache_write_tokens: 100_000, output_tokens: 500_000 }),
  // No rate at all: every class of it is unpriced.
  bucket('no-rate', { input_tokens: 400_000, input_cached_tokens: 30_000, output_tokens: 100_000 }),
]
const usage = (groupBy: string) => `{ usage(from: "2026-06-01T00:00:00Z", to: "2026-06-03T00:00:00Z", window: TOTAL, groupBy: ${groupBy},
  filter: { providers: ["${PROVIDER}"] }) {
  rows { model modality cost { cachedInput complete unpricedTokens unpricedTokensByClass { input cachedInput cacheWrite output } } }
  totals { cost { cachedInput complete unpricedTokens unpricedTokensByClass { input cachedInput cacheWrite output } } } } }`

interface ByClass { input: number; cachedInput: number; cacheWrite: number; output: number }
interface Cost { cachedInput: string; complete: boolean; unpricedTokens: number; unpricedTokensByClass: ByClass }
interface Row { model: string | null; modality: string | null; cost: Cost }

const sum = (b: ByClass) => b.input + b.cachedInput + b.cacheWrite + b.output

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const rated = await app.inject({ method: 'POST', url: '/v1/rate-cards/default/rates', headers: admin, payload: { rates: [RATE] } })
  t.equal(rated.statusCode, 201, rated.body)
  const { key } = await tenantWithKey(app, ['ingest', 'read'])
  const h = bearer(key)
  const posted = await app.inject({ method: 'POST', url: '/v1/usage/buckets', headers: h, payload: { buckets: BUCKETS } })
  t.equal(posted.statusCode < 300, true, posted.body)

  const gql = <T>(query: string) => graphqlData<T>(t, app, h, query)

  const byModel = (await gql<{ usage: { rows: Row[]; totals: { cost: Cost } } }>(usage('[MODEL]'))).usage
  const zero = byModel.rows.find((r) => r.model === 'zero-cached')!
  t.equal(zero.cost.cachedInput, '0', 'cached input is priced at exactly 0')
  t.same(zero.cost.unpricedTokensByClass, { input: 0, cachedInput: 0, cacheWrite: 100_000, output: 0 },
    'only the cache writes (no rate) are unpriced; the $0 class is not')
  t.same(byModel.rows.find((r) => r.model === 'no-rate')!.cost.unpricedTokensByClass,
    { input: 400_000 - 30_000, cachedInput: 30_000, cacheWrite: 0, output: 100_000 })
  t.same(byModel.totals.cost.unpricedTokensByClass, { input: 370_000, cachedInput: 30_000, cacheWrite: 100_000, output: 100_000 })
  for (const c of [...byModel.rows.map((r) => r.cost), byModel.totals.cost]) {
    t.equal(sum(c.unpricedTokensByClass), c.unpricedTokens, 'the classes add up to unpricedTokens')
    t.equal(c.complete, c.unpricedTokens === 0)
  }

  // Per modality the same classes, split by modality: their sums per model equal the rows above.
  const byModality = (await gql<{ usage: { rows: Row[]; totals: { cost: Cost } } }>(usage('[MODEL, MODALITY]'))).usage
  for (const model of ['zero-cached', 'no-rate']) {
    const parts = byModality.rows.filter((r) => r.model === model).map((r) => r.cost.unpricedTokensByClass)
    const added = parts.reduce((a, b) => ({ input: a.input + b.input, cachedInput: a.cachedInput + b.cachedInput,
      cacheWrite: a.cacheWrite + b.cacheWrite, output: a.output + b.output }))
    t.same(added, byModel.rows.find((r) => r.model === model)!.cost.unpricedTokensByClass, `${model}: modality rows add up`)
  }
  t.same(byModality.totals.cost.unpricedTokensByClass, byModel.totals.cost.unpricedTokensByClass)

  // Events carry the same breakdown, per event and in their totals.
  const events = [
    { id: 'zero', timestamp: AT, provider: PROVIDER, model: 'zero-cached', input_tokens: 1000, input_cached_tokens: 300, output_tokens: 10 },
    { id: 'none', timestamp: AT, provider: PROVIDER, model: 'no-rate', input_tokens: 50, output_tokens: 5 },
  ]
  await postCreatedEvents(t, app, h, events)
  const page = (await gql<{ events: { rows: { id: string; cost: Cost }[]; totals: { cost: Cost } } }>(`{ events(period: ALL, orderBy: TIME_ASC,
    filter: { providers: ["${PROVIDER}"] }) { rows { id cost { cachedInput complete unpricedTokens unpricedTokensByClass { input cachedInput cacheWrite output } } }
    totals { cost { cachedInput complete unpricedTokens unpricedTokensByClass { input cachedInput cacheWrite output } } } } }`)).events
  const zeroEvent = page.rows.find((r) => r.id === 'zero')!.cost
  t.same([zeroEvent.cachedInput, zeroEvent.complete, zeroEvent.unpricedTokensByClass], ['0', true, { input: 0, cachedInput: 0, cacheWrite: 0, output: 0 }])
  t.same(page.rows.find((r) => r.id === 'none')!.cost.unpricedTokensByClass, { input: 50, cachedInput: 0, cacheWrite: 0, output: 5 })
  t.same(page.totals.cost.unpricedTokensByClass, { input: 50, cachedInput: 0, cacheWrite: 0, output: 5 })
})
