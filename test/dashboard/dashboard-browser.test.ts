import { mkdir, readFile } from 'node:fs/promises'
import { Decimal } from 'decimal.js'
import type { FastifyInstance } from 'fastify'
import type { Page } from 'playwright-core'
import Fastify from 'fastify'
import t, { type Test } from 'tap'
import app_ from '../../src/app.js'
import { admin, ADMIN_TOKEN, bearer, build, eachEngine, testConfig } from '../helpers.js'
import { servedPage, skipWithoutChromium } from '../factories/chromium.js'
import { DASHBOARD_RANGE, seedDashboard } from '../factories/dashboard.js'

// Screenshots land here for CI to keep as artefacts (gitignored).
const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url)
const skip = skipWithoutChromium

interface Cost { total: string; currency: string; complete: boolean; unpricedTokens: number }
interface Row {
  windowStart: string
  model: string | null
  projectId: string | null
  apiKeyId: string | null
  modality: string | null
  inputTokens: number
  outputTokens: number
  uncachedInputTokens: number
  cachedInputTokens: number
  cacheWriteTokens: number
  cost: Cost
}
interface Page_ { rows: Row[]; totals: Row & { requests: number | null } }

/** The API's answer for the same range and zone, asked with offsets written by the test (not the page). */
async function apiUsage(app: FastifyInstance, key: string, from: string, to: string, window: string, tz: string, groupBy: string) {
  const query = `query($from: DateTime!, $to: DateTime!, $tz: String!) { usage(from: $from, to: $to, window: ${window},
    timeZone: $tz, groupBy: [${groupBy}], first: 1000) { rows { windowStart model projectId apiKeyId modality inputTokens
    outputTokens uncachedInputTokens cachedInputTokens cacheWriteTokens cost { total currency complete unpricedTokens } }
    totals { requests inputTokens outputTokens uncachedInputTokens cachedInputTokens cacheWriteTokens
    cost { total currency complete unpricedTokens } } pageInfo { hasNextPage } } }`
  const res = await app.inject({ method: 'POST', url: '/graphql', headers: bearer(key), payload: { query, variables: { from, to, tz } } })
  const body = res.json() as { data: { usage: Page_ & { pageInfo: { hasNextPage: boolean } } }; errors?: unknown }
  if (body.errors) throw new Error(JSON.stringify(body.errors))
  return body.data.usage
}

/** What the page must write for an amount: rounded half-up (2 places from $1, else 4), grouped. */
function money(total: string): string {
  const d = new Decimal(total)
  if (d.isZero()) return '$0.00'
  const fixed = d.toFixed(d.gte(1) ? 2 : 4, Decimal.ROUND_HALF_UP)
  const [int, frac] = fixed.split('.')
  return `$${BigInt(int!).toLocaleString('en-US')}.${frac}`
}
const costText = (c: Cost) =>
  !c.complete && new Decimal(c.total).isZero()
    ? `unpriced (${c.unpricedTokens.toLocaleString('en-US')} tokens)`
    : c.complete ? money(c.total) : `${money(c.total)} + ${c.unpricedTokens.toLocaleString('en-US')} unpriced tokens`

const localDate = (iso: string, tz: string) => new Intl.DateTimeFormat('en-CA', { timeZone: tz, dateStyle: 'short' }).format(new Date(iso))

async function cells(page: Page, selector: string) {
  return page.$$eval(selector, (els) =>
    els.map((e) => ({
      window: e.closest('tr')?.getAttribute('data-window') ?? null,
      label: e.closest('tr')?.querySelector('th')?.textContent ?? null,
      series: e.getAttribute('data-series'),
      value: e.getAttribute('data-value'),
      text: e.textContent,
    })),
  )
}

async function showsView(t: Test, page: Page, app: FastifyInstance, key: string, tz: string, offset: string) {
  const from = `${DASHBOARD_RANGE.from}T00:00:00${offset}`
  const to = `${new Date(Date.parse(`${DASHBOARD_RANGE.to}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10)}T00:00:00${offset}`
  const series = await apiUsage(app, key, from, to, 'DAY', tz, 'MODEL')
  t.ok(series.rows.length > 0)

  // Totals, with completeness: the unpriced model makes the total a lower bound, never $0.
  t.equal(await page.getAttribute('#total-cost', 'data-value'), series.totals.cost.total, `${tz}: total equals the API's`)
  t.equal(await page.textContent('#total-cost'), money(series.totals.cost.total))
  t.equal(await page.getAttribute('#total-cost', 'data-complete'), 'false')
  t.equal(await page.textContent('#completeness'),
    `${series.totals.cost.unpricedTokens.toLocaleString('en-US')} unpriced tokens, total incomplete (the amount above is a lower bound).`)

  // The table alternative: one cell per API row, in the right local day, with the API's amount.
  const shown = (await cells(page, '#series-table tbody td[data-value]')).filter((c) => c.series !== '')
  t.equal(shown.length, series.rows.length, `${tz}: one table cell per API row`)
  for (const r of series.rows) {
    const cell = shown.find((c) => c.window === r.windowStart && c.series === r.model)
    t.equal(cell?.value, r.cost.total, `${tz} ${r.windowStart} ${r.model}`)
    t.equal(cell?.text, costText(r.cost))
    t.equal(cell?.label, localDate(r.windowStart, tz), 'labelled with the local date')
  }

  // The chart's own series (read from the ECharts instance): the same values, null where no usage.
  const option = JSON.parse(await page.evaluate(`JSON.stringify((function (o) {
    return { x: o.xAxis[0].data, series: o.series.map(function (s) { return { name: s.name, data: s.data }; }) };
  })(echarts.getInstanceByDom(document.getElementById('chart')).getOption()))`)) as { x: string[]; series: { name: string; data: (number | null)[] }[] }
  const windows = [...new Set(series.rows.map((r) => r.windowStart))]
  t.same(option.x, windows.map((w) => localDate(w, tz)), `${tz}: x axis is the local days with usage`)
  t.same(option.series.map((s) => s.name).sort(), [...new Set(series.rows.map((r) => r.model))].sort())
  for (const s of option.series)
    t.same(s.data, windows.map((w) => {
      const r = series.rows.find((x) => x.windowStart === w && x.model === s.name)
      return r ? Number(r.cost.total) : null
    }), `${tz}: chart series ${s.name}`)
  return { series, shown }
}

async function putBudgetFor(app: FastifyInstance, tenantId: string, name: string, body: Record<string, unknown>) {
  const res = await app.inject({ method: 'PUT', url: `/v1/budgets/${name}`, headers: { ...admin, 'x-tenant-id': tenantId }, payload: body })
  if (res.statusCode !== 201) throw new Error(`budget ${name}: ${res.statusCode} ${res.body}`)
}

interface BudgetOut {
  name: string; amount: string; spent: string; forecast: string; percentUsed: string; periodStart: string
  periodEnd: string; thresholds: number[]; crossed: number[]; complete: boolean; currency: string
}

/** The budgets section equals the API's `budgets` at the instant the test expects (the end of the shown range). */
async function showsBudgets(t: Test, page: Page, app: FastifyInstance, key: string, tz: string, at: string, count: number) {
  t.equal(await page.getAttribute('#budgets-table', 'data-at'), at, `${tz}: budgets as they stood at the end of the range`)
  const query = `query($at: DateTime) { budgets(at: $at) { name amount spent forecast percentUsed periodStart periodEnd thresholds crossed complete currency } }`
  const res = await app.inject({ method: 'POST', url: '/graphql', headers: bearer(key), payload: { query, variables: { at } } })
  const budgets = (res.json() as { data: { budgets: BudgetOut[] } }).data.budgets
  t.equal(budgets.length, count)
  t.ok(budgets.some((b) => !b.complete) && budgets.some((b) => b.complete), 'one complete budget, one incomplete')
  t.ok(budgets.some((b) => b.crossed.length > 0), 'some threshold is crossed')
  const rows = await page.$$eval('#budgets-table tbody tr', (trs) => trs.map((tr) => {
    const f = (name: string) => tr.querySelector(`[data-field="${name}"]`)
    const bar = tr.querySelector('progress')
    return {
      name: tr.getAttribute('data-budget'),
      period: f('period')?.textContent,
      spent: f('spent')?.getAttribute('data-spent'),
      amount: f('spent')?.getAttribute('data-amount'),
      spentText: f('spent')?.querySelector('.spent-text')?.textContent,
      bar: bar && { value: bar.value, max: bar.max, label: bar.getAttribute('aria-label'), text: bar.textContent },
      percent: f('percent')?.getAttribute('data-value'),
      percentText: f('percent')?.textContent,
      forecast: f('forecast')?.getAttribute('data-value'),
      forecastText: f('forecast')?.textContent,
      crossed: f('crossed')?.getAttribute('data-value'),
      crossedText: f('crossed')?.textContent,
      complete: f('status')?.getAttribute('data-complete'),
      status: f('status')?.textContent,
    }
  }))
  const pct = (p: string) => `${new Decimal(p).toFixed(1, Decimal.ROUND_HALF_UP)}%`
  t.same(rows, budgets.map((b) => ({
    name: b.name,
    period: `${localDate(b.periodStart, tz)} – ${localDate(new Date(Date.parse(b.periodEnd) - 1).toISOString(), tz)}`,
    spent: b.spent,
    amount: b.amount,
    spentText: `${money(b.spent)} of ${money(b.amount)}`,
    bar: { value: Math.min(100, Number(b.percentUsed)), max: 100, label: `${b.name}: ${pct(b.percentUsed)} of the budget used`, text: pct(b.percentUsed) },
    percent: b.percentUsed,
    percentText: pct(b.percentUsed),
    forecast: b.forecast,
    forecastText: money(b.forecast),
    crossed: b.crossed.join(','),
    crossedText: b.crossed.length ? b.crossed.map((c) => `${c}%`).join(', ') : 'none',
    complete: String(b.complete),
    status: b.complete ? 'complete' : 'incomplete: unpriced usage in scope, spend is a lower bound',
  })), `${tz}: budgets section equals the API's budgets`)
  t.equal(await page.isVisible('#budgets-empty'), false)
}

t.test('dashboard in Chromium: a pasted key shows the API’s numbers; the time zone moves the days', { skip }, async (t) => {
  await mkdir(ARTIFACTS, { recursive: true })
  await eachEngine(t, async (t, engine) => {
    const app = await build(t, engine)
    const { readKey, tenantId } = await seedDashboard(app, ADMIN_TOKEN)
    const { origin, page, problems, foreign } = await servedPage(t, app)

    const view = new URLSearchParams({ ...DASHBOARD_RANGE, window: 'DAY', tz: 'UTC', group: 'MODEL' })
    await page.goto(`${origin}/#${view}`)
    await page.waitForSelector('#app[data-state="needs-key"]')
    t.match(await page.textContent('#message'), /Paste a read key/)

    // Keyboard only: type the key, Enter submits.
    await page.focus('#key')
    await page.keyboard.type(readKey)
    await page.keyboard.press('Enter')
    await page.waitForSelector('#app[data-state="ready"]')
    t.equal(await page.evaluate(`sessionStorage.getItem('tokenledger.dashboard.key')`), readKey, 'kept in sessionStorage')
    const utc = await showsView(t, page, app, readKey, 'UTC', 'Z')

    // Budgets: none yet → the empty state says how to make one.
    t.equal(await page.isVisible('#budgets-empty'), true, 'empty state shown')
    t.match(await page.textContent('#budgets-empty'), /No budgets yet — PUT \/v1\/budgets\/\{name\}/)
    t.equal(await page.$$eval('#budgets-table tbody tr', (trs) => trs.length), 0)
    // One on priced usage only, one that includes the unpriced model (complete=false); then the page is reloaded.
    await putBudgetFor(app, tenantId, 'web-monthly', { amount: '40', period: 'month', filter: { project_ids: ['proj_web'] }, thresholds: [50, 80, 100, 200] })
    await putBudgetFor(app, tenantId, 'research-weekly', { amount: '1234.5', period: 'week', time_zone: 'Europe/Paris', filter: { project_ids: ['proj_research'] }, thresholds: [10, 90] })
    await page.click('#apply')
    await page.waitForSelector('#app[data-state="ready"] #budgets[data-state="ready"] tr[data-budget]')
    await showsBudgets(t, page, app, readKey, 'UTC', '2026-11-14T23:59:59.999Z', 2)
    const [budgetsCsv] = await Promise.all([page.waitForEvent('download'), page.click('#budgets-csv')])
    const lines = (await readFile((await budgetsCsv.path())!, 'utf8')).trim().split('\r\n').map((l) => l.split(','))
    t.same(lines[0]!.slice(0, 9), ['name', 'period', 'time_zone', 'period_start', 'period_end', 'amount', 'spent', 'percent_used', 'forecast'])
    t.same(lines.slice(1).map((l) => [l[0], l[6], l[12]]), await page.$$eval('#budgets-table tbody tr', (trs) => trs.map((tr) =>
      [tr.getAttribute('data-budget'), tr.querySelector('[data-field="spent"]')?.getAttribute('data-spent'), tr.querySelector('[data-field="status"]')?.getAttribute('data-complete')])), 'budgets CSV: exact amounts')

    // Unpriced usage is named in its cell and under the chart, never $0.
    const acme = utc.shown.find((c) => c.series === 'acme-llm-1')
    t.match(acme?.text, /^unpriced \([\d,]+ tokens\)$/)
    t.match(await page.textContent('#chart-unpriced'), /acme-llm-1 \([\d,]+ unpriced tokens\)/)

    // Top lists: the API's groups over the whole range, most expensive first, with the API's amounts.
    for (const [dim, field, id] of [['PROJECT', 'projectId', 'top-project'], ['API_KEY', 'apiKeyId', 'top-api-key'], ['MODEL', 'model', 'top-model']] as const) {
      const api = await apiUsage(app, readKey, '2026-11-01T00:00:00Z', '2026-11-15T00:00:00Z', 'TOTAL', 'UTC', dim)
      const expected = api.rows
        .sort((a, b) => new Decimal(b.cost.total).cmp(a.cost.total) || b.inputTokens + b.outputTokens - a.inputTokens - a.outputTokens)
        .map((r) => [r[field], r.cost.total])
      const rows = await page.$$eval(`#${id}-table tbody tr`, (trs) => trs.map((tr) => [tr.getAttribute('data-group'), tr.querySelector('td[data-value]')?.getAttribute('data-value')]))
      t.same(rows, expected, `${id} in cost order`)
    }

    // Tokens by class and modality, and the totals row.
    const classes = await apiUsage(app, readKey, '2026-11-01T00:00:00Z', '2026-11-15T00:00:00Z', 'TOTAL', 'UTC', 'MODALITY')
    for (const r of [...classes.rows, { ...classes.totals, modality: 'All' }]) {
      const shown = await page.$$eval(`#classes-table tr[data-modality="${r.modality}"] td`, (tds) => tds.map((td) => td.getAttribute('data-value')))
      t.same(shown, [r.uncachedInputTokens, r.cachedInputTokens, r.cacheWriteTokens, r.outputTokens].map(String).concat(r.cost.total), `classes ${r.modality}`)
    }

    // CSV of what is shown: the chart's rows with exact amounts.
    await page.click('#series-details summary')
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#overview-csv')])
    const csv = (await readFile((await download.path())!, 'utf8')).trim().split('\r\n').map((l) => l.split(','))
    t.same(csv[0]!.slice(0, 5), ['window_start', 'window_end', 'window_local', 'model', 'cost'])
    t.same(csv.slice(1).map((l) => [l[0], l[3], l[4]]), utc.series.rows.map((r) => [r.windowStart, r.model, r.cost.total]))
    await page.screenshot({ path: new URL(`dashboard-${engine}-utc.png`, ARTIFACTS).pathname, fullPage: true })

    // Another zone: the same usage falls on other local days, and the page still equals the API.
    await page.fill('#tz', 'Pacific/Auckland')
    await page.click('#apply')
    await page.waitForSelector('#app[data-state="ready"] #message:has-text("Pacific/Auckland")')
    const nz = await showsView(t, page, app, readKey, 'Pacific/Auckland', '+13:00')
    await showsBudgets(t, page, app, readKey, 'Pacific/Auckland', '2026-11-14T10:59:59.999Z', 2)
    const day2 = (v: typeof utc) => v.shown.filter((c) => c.label === '2026-11-02').map((c) => c.value).sort()
    t.not(JSON.stringify(day2(nz)), JSON.stringify(day2(utc)), 'the 2nd of November holds other usage in Auckland than in UTC')
    t.match(page.url(), /tz=Pacific%2FAuckland/, 'the view is in the URL (never the key)')
    t.notMatch(page.url(), new RegExp(readKey))
    await page.screenshot({ path: new URL(`dashboard-${engine}-auckland.png`, ARTIFACTS).pathname, fullPage: true })

    t.same(foreign, [], 'nothing loaded from elsewhere')
    t.same(problems, [], 'no script errors or CSP violations')
  })
})

t.test('dashboard in Chromium: a refused key asks for a key, an unreachable server and a down database say so', { skip }, async (t) => {
  const app = await build(t, 'pglite')
  const { origin, page, foreign } = await servedPage(t, app)

  await page.goto(`${origin}/#${new URLSearchParams({ ...DASHBOARD_RANGE, tz: 'UTC' })}`)
  await page.fill('#key', 'tl_not_a_real_key')
  await page.click('#key-save')
  await page.waitForSelector('#app[data-state="needs-key"] #message:has-text("401")')
  t.match(await page.textContent('#message'), /refused this key \(HTTP 401\)\. Paste a tenant API key/)
  t.equal(await page.evaluate(`sessionStorage.getItem('tokenledger.dashboard.key')`), null, 'the refused key is dropped')
  t.equal(await page.evaluate('document.activeElement.id'), 'key', 'focus is on the key field')

  // The server stops answering (network error): said as such.
  await page.route('**/graphql', (route) => route.abort('connectionrefused'))
  await page.fill('#key', 'tl_whatever')
  await page.click('#key-save')
  await page.waitForSelector('#app[data-state="error"]')
  t.match(await page.textContent('#message'), /Cannot reach the tokenledger server \(network error\)/)
  await page.unroute('**/graphql')

  // Rate limited (a 429 problem with Retry-After, as the rate limiter answers): the wait is said.
  await page.route('**/graphql', (route) => route.fulfill({ status: 429, contentType: 'application/problem+json',
    headers: { 'retry-after': '7' }, body: JSON.stringify({ title: 'Too many requests', status: 429 }) }))
  await page.click('#apply')
  await page.waitForSelector('#app[data-state="error"] #message:has-text("429")')
  t.equal(await page.textContent('#message'), 'Too many requests for this key (HTTP 429); try again in 7 s.')
  await page.unroute('**/graphql')

  t.same(foreign, [])

  // The database is down (a server whose PostgreSQL does not answer): /graphql is 503 problem+json with
  // Retry-After, and the page says the database is down.
  const down = Fastify({ logger: false })
  await down.register(app_, { config: testConfig({ DATABASE_URL: 'postgres://postgres@127.0.0.1:9/none', DB_RETRY_MS: '2000' }) })
  t.teardown(() => down.close())
  const { origin: downOrigin, page: downPage, foreign: downForeign } = await servedPage(t, down)
  await downPage.goto(`${downOrigin}/#${new URLSearchParams({ ...DASHBOARD_RANGE, tz: 'UTC' })}`)
  await downPage.fill('#key', 'tl_any_key')
  await downPage.click('#key-save')
  await downPage.waitForSelector('#app[data-state="error"]')
  t.match(await downPage.textContent('#message'), /^The database is unavailable \(HTTP 503\).*try again in 2 s\.$/)
  t.same(downForeign, [])
})

t.test('dashboard in Chromium: a link naming a key every object inherits (#group=constructor) shows the default view', { skip }, async (t) => {
  const app = await build(t, 'pglite')
  const { readKey } = await seedDashboard(app, ADMIN_TOKEN)
  const { origin, page, problems } = await servedPage(t, app)
  // `group` and `constructor` passed the dashboard's `in` and truthiness checks: the view broke loading.
  await page.goto(`${origin}/#${new URLSearchParams({ ...DASHBOARD_RANGE, tz: 'UTC', group: 'constructor', constructor: 'x', toString: 'y' })}`)
  await page.fill('#key', readKey)
  await page.click('#key-save')
  await page.waitForSelector('#app[data-state="ready"]')
  t.equal(await page.inputValue('#group'), 'MODEL', 'the default grouping')
  t.match(await page.textContent('#over-time-title'), /by model/i)
  t.same(problems, [], 'no script errors')
})
