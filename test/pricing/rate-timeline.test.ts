import fc from 'fast-check'
import t from 'tap'
import { canonicalDecimal } from '../../src/decimal/decimal-text.js'
import { samePrices } from '../../src/pricing/prices.js'
import { modelMatches, overlaps, ratesInForce, resolveModel, type TimelineRate } from '../../src/pricing/rate-timeline.js'

const d = (s: string) => new Date(`${s}T00:00:00Z`)
let nextId = 1
const rate = (model: string, from: string, to: string | null = null, extra: Partial<TimelineRate> = {}): TimelineRate => ({
  id: nextId++,
  provider: 'openai',
  model,
  serviceTier: 'default',
  contextTier: null,
  inferenceGeo: null,
  batch: false,
  effectiveFrom: d(from),
  effectiveTo: to ? d(to) : null,
  prices: {},
  supersedes: null,
  recordedAt: new Date(),
  ...extra,
})

t.test('canonicalDecimal strips leading and trailing zeros and keeps the value', async (t) => {
  t.equal(canonicalDecimal('0.34090000000000000'), '0.3409')
  t.equal(canonicalDecimal('000'), '0')
  t.equal(canonicalDecimal('0.000'), '0')
  t.equal(canonicalDecimal('010.50'), '10.5')
  t.throws(() => canonicalDecimal('1e-6'))
  t.throws(() => canonicalDecimal('-1'))
  fc.assert(
    fc.property(fc.nat(), fc.nat({ max: 6 }), fc.nat({ max: 6 }), fc.stringMatching(/^\d{0,8}$/), (int, lead, trail, frac) => {
      const text = `${'0'.repeat(lead)}${int}${frac ? `.${frac}${'0'.repeat(trail)}` : ''}`
      const c = canonicalDecimal(text)
      // Same value: compare as scaled integers, no floats involved.
      const scale = (s: string) => {
        const [w, f = ''] = s.split('.')
        return BigInt(w! + f.padEnd(20, '0'))
      }
      return scale(c) === scale(text) && !/^0\d/.test(c) && !/\.\d*0$/.test(c) && !c.endsWith('.')
    }),
  )
  t.ok(samePrices({ input: '1.50' }, { input: '1.5' }))
  t.notOk(samePrices({ input: '1.5' }, { input: '1.5', output: '0' }))
})

t.test('overlap: identical start, or explicit ranges that intersect', async (t) => {
  const r = (from: string, to: string | null) => ({ effectiveFrom: d(from), effectiveTo: to ? d(to) : null })
  t.ok(overlaps(r('2025-01-01', null), r('2025-01-01', '2025-02-01')))
  t.ok(overlaps(r('2025-01-01', '2025-03-01'), r('2025-02-01', '2025-04-01')))
  t.notOk(overlaps(r('2025-01-01', '2025-02-01'), r('2025-02-01', '2025-03-01')), 'adjacent [from, to) ranges')
  t.notOk(overlaps(r('2025-01-01', null), r('2025-02-01', '2025-03-01')), 'an open rate yields to the next')
})

t.test('in force: latest start at or before `at`, unless its own end has passed; corrections replace', async (t) => {
  const a = rate('m', '2025-01-01')
  const b = rate('m', '2025-06-01', '2025-07-01')
  const fix = rate('m', '2025-01-01', null, { supersedes: a.id, prices: { input: '2' } })
  t.same(ratesInForce([a, b], d('2025-03-01')).map((r) => r.id), [a.id])
  t.same(ratesInForce([a, b], d('2025-06-15')).map((r) => r.id), [b.id])
  t.same(ratesInForce([a, b], d('2025-07-01')), [], 'b ended and a had yielded to b')
  t.same(ratesInForce([a, b, fix], d('2025-03-01')).map((r) => r.id), [fix.id])
})

t.test('model resolution: exact id, then longest prefix, per tier and batch', async (t) => {
  t.ok(modelMatches('gpt-5-mini-2025-*', 'gpt-5-mini-2025-08-07'))
  t.notOk(modelMatches('gpt-5-2025-*', 'gpt-5-mini-2025-08-07'))
  const rates = [rate('gpt-5*', '2025-01-01'), rate('gpt-5-mini*', '2025-01-01'), rate('gpt-5-mini-2025-08-07', '2025-01-01', null, { batch: true })]
  t.same(resolveModel(rates, 'gpt-5-mini-2025-08-07').map((r) => r.model).sort(), ['gpt-5-mini*', 'gpt-5-mini-2025-08-07'])
  t.same(resolveModel(rates, 'gpt-5-nano').map((r) => r.model), ['gpt-5*'])
})
