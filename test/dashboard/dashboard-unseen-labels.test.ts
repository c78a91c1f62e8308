import t from 'tap'
import { ADMIN_TOKEN, build, eachEngine } from '../helpers.js'
import { servedPage, skipWithoutChromium } from '../factories/chromium.js'
import { poster } from '../factories/dashboard.js'

// A model (or project, key …) named with only white space or invisible characters showed as an empty row
// header in the top lists and the chart's table, and " " could not be told from a zero-width space. Such a
// value is now shown quoted, each character as its escape.

const tokens = (model: string, input: number) => ({
  start_time: '2026-11-03T10:00:00Z', end_time: '2026-11-03T11:00:00Z', provider: 'keys', model, num_model_requests: 1, input_tokens: input, output_tokens: 0,
})

t.test('dashboard in Chromium: a group with nothing to see is shown escaped', { skip: skipWithoutChromium }, async (t) => {
  await eachEngine(t, async (t, engine) => {
    const app = await build(t, engine)
    const call = poster(app, ADMIN_TOKEN)
    await call('/v1/tenants', { id: 'unseen', name: 'Unseen' })
    const ingest = await call('/v1/tenants/unseen/api-keys', { name: 'seed', scopes: ['ingest'] })
    await call('/v1/usage/buckets', { buckets: [tokens(' ', 3_000), tokens('\u200b', 2_000), tokens('gpt-x', 1_000)] }, { authorization: `Bearer ${ingest.key}` })
    const { key } = await call('/v1/tenants/unseen/api-keys', { name: 'dashboard', scopes: ['read'] })

    const { origin, page, problems } = await servedPage(t, app)
    await page.goto(`${origin}/#${new URLSearchParams({ from: '2026-11-03', to: '2026-11-03', window: 'DAY', tz: 'UTC', group: 'MODEL' })}`)
    await page.fill('#key', key)
    await page.click('#key-save')
    await page.waitForSelector('#app[data-state="ready"] #message:has-text("2026-11-03 to 2026-11-03")')

    const top = await page.$$eval('#top-model-table tbody tr[data-group] th', (ths) => ths.map((th) => th.textContent))
    t.same(top, ['"\\u0020"', '"\\u200B"', 'gpt-x'], 'the top models: the two with nothing to see escaped, told apart')
    const series = await page.$$eval('#series-table tbody tr:first-child td[data-series]:not([data-series=""])', (tds) => tds.map((td) => td.getAttribute('data-series')))
    t.same(series, ['"\\u0020"', '"\\u200B"', 'gpt-x'], 'the chart’s table names the same series')
    t.same(problems, [], 'no script errors')
  })
})
