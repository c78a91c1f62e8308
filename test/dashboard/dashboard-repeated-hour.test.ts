import t from 'tap'
import { TIME_JS } from '../../src/dashboard/client/time.js'
import { ADMIN_TOKEN, build, eachEngine } from '../helpers.js'
import { servedPage, skipWithoutChromium } from '../factories/chromium.js'
import { poster } from '../factories/dashboard.js'

// HOUR windows were labelled with the local date and time only. Where clocks fall back, an hour happens twice
// (America/New_York, 2025-11-02: 01:00 EDT, then 01:00 EST; America/Havana: 00:00 twice), and the chart's
// axis and the table showed two windows both reading "2025-11-02 01:00". The repeated hour now carries its
// UTC offset; every other label reads as before. The chart, the table, the CSV's window_local and the
// budgets caption all write their hours with Zone.label.

// eslint-disable-next-line no-new-func -- runs the page's own script text, as dashboard.test.ts does
const Zone = new Function(`${TIME_JS}; return Zone`)() as { label(iso: string, window: string, tz: string): string }
const HOUR = 3_600_000

t.test('the hour a fall-back repeats is told apart by its UTC offset', async (t) => {
  const ny = (iso: string) => Zone.label(iso, 'HOUR', 'America/New_York')
  t.same(['04', '05', '06', '07'].map((h) => ny(`2025-11-02T${h}:00:00Z`)), [
    '2025-11-02 00:00', '2025-11-02 01:00 (UTC-04:00)', '2025-11-02 01:00 (UTC-05:00)', '2025-11-02 02:00',
  ])
  const havana = (iso: string) => Zone.label(iso, 'HOUR', 'America/Havana')
  t.same(['04', '05', '06'].map((h) => havana(`2025-11-02T${h}:00:00Z`)), [
    '2025-11-02 00:00 (UTC-04:00)', '2025-11-02 00:00 (UTC-05:00)', '2025-11-02 01:00',
  ])
  t.equal(Zone.label('2025-11-02T06:00:00Z', 'DAY', 'America/New_York'), '2025-11-02', 'days are unchanged')
  t.equal(Zone.label('2025-03-09T07:00:00Z', 'HOUR', 'America/New_York'), '2025-03-09 03:00', 'a skipped hour repeats nothing')
})

t.test('every hour of a year has its own label in zones with DST changes', async (t) => {
  for (const tz of ['America/New_York', 'America/Havana', 'Europe/London', 'Australia/Lord_Howe', 'America/Santiago', 'UTC']) {
    const seen = new Map<string, string>()
    const clashes: string[] = []
    for (let ms = Date.parse('2025-01-01T00:00:00Z'); ms < Date.parse('2026-01-01T00:00:00Z'); ms += HOUR) {
      const iso = new Date(ms).toISOString()
      const label = Zone.label(iso, 'HOUR', tz)
      if (seen.has(label)) clashes.push(`${seen.get(label)} and ${iso} both read ${label}`)
      seen.set(label, iso)
    }
    t.same(clashes, [], `${tz}: no two hours read the same`)
  }
})

t.test('dashboard in Chromium: the two 01:00 windows of a New York fall-back read differently in the chart and the table', { skip: skipWithoutChromium }, async (t) => {
  await eachEngine(t, async (t, engine) => {
    const app = await build(t, engine)
    const call = poster(app, ADMIN_TOKEN)
    await call('/v1/tenants', { id: 'fallback', name: 'Fall back' })
    const ingest = await call('/v1/tenants/fallback/api-keys', { name: 'seed', scopes: ['ingest'] })
    // 01:00 EDT (05:00Z), 01:00 EST (06:00Z) and 02:00 EST (07:00Z).
    const buckets = ['05', '06', '07'].map((h) => ({ start_time: `2025-11-02T${h}:00:00Z`, end_time: `2025-11-02T${h}:30:00Z`,
      provider: 'openai', model: 'gpt-4o-mini-2024-07-18', num_model_requests: 1, input_tokens: 1000, output_tokens: 100 }))
    await call('/v1/usage/buckets', { buckets }, { authorization: `Bearer ${ingest.key}` })
    const { key } = await call('/v1/tenants/fallback/api-keys', { name: 'dashboard', scopes: ['read'] })

    const { origin, page, problems } = await servedPage(t, app)
    await page.goto(`${origin}/#${new URLSearchParams({ from: '2025-11-02', to: '2025-11-02', window: 'HOUR', tz: 'America/New_York', group: 'MODEL' })}`)
    await page.fill('#key', key)
    await page.click('#key-save')
    await page.waitForSelector('#app[data-state="ready"]')
    const expected = ['2025-11-02 01:00 (UTC-04:00)', '2025-11-02 01:00 (UTC-05:00)', '2025-11-02 02:00']
    t.same(await page.$$eval('#series-table tbody th', (ths) => ths.map((th) => th.textContent)), expected, 'table rows')
    t.same(JSON.parse(await page.evaluate(`JSON.stringify(echarts.getInstanceByDom(document.getElementById('chart')).getOption().xAxis[0].data)`)),
      expected, 'chart axis')
    t.same(problems, [], 'no script errors')
  })
})
