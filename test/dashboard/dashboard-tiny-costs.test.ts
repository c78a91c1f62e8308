import { Decimal as BaseDecimal } from 'decimal.js'
import fc from 'fast-check'
import t from 'tap'
import { DECIMAL_JS } from '../../src/dashboard/client/decimal.js'
import { FORMAT_JS } from '../../src/dashboard/client/format.js'
import { ADMIN_TOKEN, build, eachEngine } from '../helpers.js'
import { servedPage, skipWithoutChromium } from '../factories/chromium.js'
import { poster } from '../factories/dashboard.js'

// The chart's y axis writes its tick values with the page's money formatter, from String(Number): a day of
// tiny costs (a few tokens of a cheap model) has ticks like 5e-8, which the page's decimal parser refused
// ("not a decimal: 5e-8"). The throw escaped ECharts' render: no chart, and the section failed.

// Enough precision that decimal.js is exact for every value generated below.
const Decimal = BaseDecimal.clone({ precision: 400 })

// eslint-disable-next-line no-new-func -- runs the page's own script text, as test/dashboard/dashboard.test.ts does
const Fmt = new Function(`${DECIMAL_JS}; ${FORMAT_JS}; return { Dec, Fmt }`)() as {
  Dec: { add(a: string, b: string): string; toFixed(a: string, dp: number): string }
  Fmt: { money(dec: string, currency: string): string }
}

t.test('the page reads numbers in exponent notation (what String(Number) gives) exactly', async (t) => {
  t.equal(Fmt.Dec.add('1e-7', '0'), '0.0000001')
  t.equal(Fmt.Dec.add(String(2.5e-8), '0.1'), '0.100000025')
  t.equal(Fmt.Dec.add(String(1.25e21), '0'), '1250000000000000000000')
  t.equal(Fmt.Dec.add(String(-3e-9), '0'), '-0.000000003')
  t.equal(Fmt.Fmt.money(String(5e-8), 'USD'), '< $0.0001', 'a tick below the shown precision')
  t.equal(Fmt.Fmt.money(String(1.5e-4), 'USD'), '$0.0002')
  t.equal(Fmt.Fmt.money(String(2e21), 'USD'), '$2,000,000,000,000,000,000,000.00')
  fc.assert(
    fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (n) => {
      // decimal.js reads the same text exactly; the page must agree digit for digit.
      t.equal(Fmt.Dec.add(String(n), '0'), new Decimal(String(n)).toFixed().replace(/^-0$/, '0'))
    }),
    { numRuns: 300, examples: [[1e-7], [5e-324], [Number.MAX_VALUE], [-1.5e-10], [0.30000000000000004]] },
  )
})

t.test('dashboard in Chromium: a range of tiny costs draws its chart, axis labelled', { skip: skipWithoutChromium }, async (t) => {
  await eachEngine(t, async (t, engine) => {
    const app = await build(t, engine)
    const call = poster(app, ADMIN_TOKEN)
    // $0.10 per 1M input tokens on the default card: each token costs $0.0000001.
    await call('/v1/rate-cards/default/rates', { rates: [{ provider: 'tiny', model: 'tiny-model', effective_from: '2026-01-01T00:00:00Z', prices: { input: '0.1', output: '0.1' } }] })
    await call('/v1/tenants', { id: 'tiny', name: 'Tiny' })
    const ingest = await call('/v1/tenants/tiny/api-keys', { name: 'seed', scopes: ['ingest'] })
    const buckets = [1, 2, 3].map((day) => ({
      start_time: `2026-11-0${day}T12:00:00Z`, end_time: `2026-11-0${day}T13:00:00Z`, provider: 'tiny', model: 'tiny-model',
      num_model_requests: 1, input_tokens: day, output_tokens: 0,
    }))
    await call('/v1/usage/buckets', { buckets }, { authorization: `Bearer ${ingest.key}` })
    const { key } = await call('/v1/tenants/tiny/api-keys', { name: 'dashboard', scopes: ['read'] })

    const { origin, page, problems } = await servedPage(t, app)
    await page.goto(`${origin}/#${new URLSearchParams({ from: '2026-11-01', to: '2026-11-03', window: 'DAY', tz: 'UTC', group: 'MODEL' })}`)
    await page.fill('#key', key)
    await page.click('#key-save')
    // A throw while the chart renders leaves the page loading for good: its script error ends the wait.
    const settled = await Promise.race([
      page.waitForSelector('#app[data-state="ready"], #app[data-state="error"]').then(() => 'settled'),
      page.waitForEvent('pageerror').then((e) => `script error: ${e.message}`),
    ])
    t.equal(settled, 'settled', 'the page settles without a script error')
    t.equal(await page.getAttribute('#app', 'data-state'), 'ready', String(await page.textContent('#message')))
    t.equal(await page.getAttribute('#total-cost', 'data-value'), '0.0000006', 'the exact total')
    const option = JSON.parse(await page.evaluate(`JSON.stringify((function (o) {
      return { series: o.series.map(function (s) { return s.data; }) };
    })(echarts.getInstanceByDom(document.getElementById('chart')).getOption()))`)) as { series: (number | null)[][] }
    t.same(option.series, [[1e-7, 2e-7, 3e-7]], 'the chart holds the three days')
    const labels = await page.$$eval('#chart svg text', (els) => els.map((e) => e.textContent ?? ''))
    t.ok(labels.includes('$0.00'), 'the axis starts at $0.00')
    t.ok(labels.includes('< $0.0001'), 'tiny ticks are labelled, not thrown on')
    t.same(problems, [], 'no script errors')
  })
})
