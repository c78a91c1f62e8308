import t from 'tap'
import { ADMIN_TOKEN, build, eachEngine } from '../helpers.js'
import { servedPage, skipWithoutChromium } from '../factories/chromium.js'
import { poster } from '../factories/dashboard.js'

// The chart's series were keyed by their display label, so a model literally named "(no model)" was summed
// into the series of usage with no model, and one named "Other (3 models)" stood beside the synthetic
// "Other (3 models)" under the same name (one legend entry for both). Series are keyed by the group's
// value now (null apart from every string); a value that reads like a synthetic label is shown quoted.

const hour = (day: string, h: number) => `2026-11-${day}T${String(h).padStart(2, '0')}:00:00Z`
const tokens = (day: string, model: string, input: number) => ({
  start_time: hour(day, 10), end_time: hour(day, 11), provider: 'keys', model, num_model_requests: 1, input_tokens: input, output_tokens: 0,
})

t.test('dashboard in Chromium: a group named like a synthetic series is its own series', { skip: skipWithoutChromium }, async (t) => {
  await eachEngine(t, async (t, engine) => {
    const app = await build(t, engine)
    const call = poster(app, ADMIN_TOKEN)
    await call('/v1/tenants', { id: 'series', name: 'Series' })
    const ingest = await call('/v1/tenants/series/api-keys', { name: 'seed', scopes: ['ingest'] })
    // 2026-11-02: usage with no model (a resource row) and a model literally named "(no model)".
    // 2026-11-05: a model literally named "Other (3 models)" and 11 more, so the 3 smallest make "Other (3 models)".
    const buckets = [tokens('02', '(no model)', 7_000), tokens('05', 'Other (3 models)', 9_000_000),
      ...Array.from({ length: 11 }, (_, i) => tokens('05', `m${String(i).padStart(2, '0')}`, 1_000_000 - i * 1_000))]
    const resources = [{ start_time: hour('02', 10), end_time: hour('02', 11), provider: 'keys', model: null, resource: 'widget_renders', quantity: '3', attributes: {} }]
    await call('/v1/usage/buckets', { buckets, resources }, { authorization: `Bearer ${ingest.key}` })
    const { key } = await call('/v1/tenants/series/api-keys', { name: 'dashboard', scopes: ['read'] })

    const { origin, page, problems } = await servedPage(t, app)
    const show = async (day: string) => {
      const range = { from: `2026-11-${day}`, to: `2026-11-${day}` }
      await page.goto(`${origin}/#${new URLSearchParams({ ...range, window: 'DAY', tz: 'UTC', group: 'MODEL' })}`)
      if (!(await page.evaluate(`sessionStorage.getItem('tokenledger.dashboard.key')`))) {
        await page.fill('#key', key)
        await page.click('#key-save')
      }
      await page.waitForSelector(`#app[data-state="ready"] #message:has-text("${range.from} to ${range.to}")`)
      const cells = await page.$$eval('#series-table tbody tr:first-child td[data-series]:not([data-series=""])', (tds) =>
        tds.map((td) => [td.getAttribute('data-series'), td.getAttribute('data-unpriced'), td.getAttribute('data-unpriced-quantity')]))
      const legend = await page.evaluate(`echarts.getInstanceByDom(document.getElementById('chart')).getOption().series.map((s) => s.name)`) as string[]
      const top = await page.$$eval('#top-model-table tbody tr[data-group]', (trs) =>
        trs.map((tr) => [tr.getAttribute('data-group'), tr.querySelector('th')!.textContent, tr.querySelector('td')!.getAttribute('data-unpriced')]))
      return { cells, legend, top }
    }

    const none = await show('02')
    t.same(none.cells.map((c) => c[0]).sort(), ['"(no model)"', '(no model)'], 'two series: the real value quoted, the synthetic one as is')
    t.same(none.cells.find((c) => c[0] === '"(no model)"')?.slice(1), ['7000', ''], 'the model named "(no model)" holds its own tokens')
    t.same(none.cells.find((c) => c[0] === '(no model)')?.slice(1), ['0', 'widget_renders=3'], 'usage with no model holds only its own')
    t.equal(new Set(none.legend).size, 2, 'the chart has two series, distinctly named')
    t.same(none.top.sort(), [['"(no model)"', '"(no model)"', '7000'], ['(no model)', '(no model)', '0']], 'the top models say which is which, too')

    const other = await show('05')
    const names = other.cells.map((c) => c[0])
    t.equal(names.length, 10, 'nine series and Other')
    t.equal(new Set(names).size, names.length, 'every series has its own name')
    t.equal(names[0], '"Other (3 models)"', 'the largest model, literally named "Other (3 models)", is its own series, quoted')
    t.equal(names.at(-1), 'Other (3 models)', 'the synthetic Other series is last')
    t.same(other.cells.map((c) => c[1]), ['9000000', ...[0, 1, 2, 3, 4, 5, 6, 7].map((i) => String(1_000_000 - i * 1_000)), String(3 * 1_000_000 - (8 + 9 + 10) * 1_000)])
    t.same(other.legend, names, 'the legend names the same series')
    t.same(problems, [], 'no script errors')
  })
})
