import { readFile } from 'node:fs/promises'
import { Decimal } from 'decimal.js'
import type { FastifyInstance } from 'fastify'
import type { Page } from 'playwright-core'
import t, { type Test } from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'
import { servedPage, skipWithoutChromium } from '../factories/chromium.js'
import { billDays } from '../factories/dashboard.js'

/**
 * The dashboard's reconciliation by day and its resources, in Chromium: usage (tokens of a priced model, and an
 * unpriced resource of another provider) and an OpenAI costs page billing one day as computed (MATCH), one
 * day 25 cents over (MISMATCH) and one day without usage (BILLED_ONLY). Every number the page shows is
 * compared with the GraphQL answer to the same question, asked by the test.
 */

const skip = skipWithoutChromium
const DAYS = ['2026-11-02', '2026-11-03', '2026-11-04']
const RANGE = { from: '2026-11-02T00:00:00Z', to: '2026-11-05T00:00:00Z' }
const MODEL = 'gpt-4o-mini-2024-07-18'

function usageBody() {
  const hour = (day: string, h: number) => new Date(Date.parse(`${day}T00:00:00Z`) + h * 3_600_000).toISOString()
  const buckets = DAYS.slice(0, 2).flatMap((day, i) => [3, 21].map((h) => ({
    start_time: hour(day, h), end_time: hour(day, h + 1), provider: 'openai', model: MODEL, project_id: 'proj_web',
    api_key_id: 'key_web', num_model_requests: 40 + i, input_tokens: 812_345 + i * 1_000, input_cached_tokens: 200_000, output_tokens: 90_123 + h,
  })))
  // Tokens of a model no card prices, and a resource no card prices: the page names them, never shows $0.
  buckets.push({ start_time: hour(DAYS[1]!, 4), end_time: hour(DAYS[1]!, 5), provider: 'acme', model: 'acme-llm-1', project_id: 'proj_web',
    api_key_id: 'key_web', num_model_requests: 3, input_tokens: 5_000, input_cached_tokens: 0, output_tokens: 700 })
  const resources = [{ start_time: hour(DAYS[0]!, 5), end_time: hour(DAYS[0]!, 6), provider: 'acme', model: null,
    resource: 'widget_renders', quantity: '12.5', attributes: {} }]
  return { buckets, resources }
}

interface Cost { total: string; complete: boolean; unpricedTokens: number; unpricedQuantity: { resource: string; quantity: string }[] }
interface ReconRow { windowStart: string; provider: string | null; computed: string | null; billed: string | null; difference: string | null; status: string; unpricedTokens: number }
interface ReconTotals { computed: string; billed: string; difference: string; unpricedTokens: number }

async function gql<T>(app: FastifyInstance, key: string, query: string, variables: Record<string, unknown>): Promise<T> {
  const res = await app.inject({ method: 'POST', url: '/graphql', headers: bearer(key), payload: { query, variables } })
  const body = res.json() as { data: T; errors?: unknown }
  if (body.errors) throw new Error(JSON.stringify(body.errors))
  return body.data
}
const apiRecon = (app: FastifyInstance, key: string) =>
  gql<{ reconciliation: { rows: ReconRow[]; totals: ReconTotals } }>(app, key, `query($from: DateTime!, $to: DateTime!) {
    reconciliation(from: $from, to: $to, window: DAY, groupBy: [PROVIDER], first: 1000) {
      rows { windowStart provider computed billed difference status unpricedTokens } totals { computed billed difference unpricedTokens } } }`, RANGE)
    .then((d) => d.reconciliation)
const apiByResource = (app: FastifyInstance, key: string) =>
  gql<{ usage: { rows: { windowStart: string; resource: string; cost: Cost }[]; totals: { cost: Cost } } }>(app, key, `query($from: DateTime!, $to: DateTime!) {
    usage(from: $from, to: $to, window: DAY, groupBy: [RESOURCE], first: 1000) {
      rows { windowStart resource cost { total complete unpricedTokens unpricedQuantity { resource quantity } } }
      totals { cost { total complete unpricedTokens unpricedQuantity { resource quantity } } } } }`, RANGE)
    .then((d) => d.usage)

/** The page's writing of an amount (rounded half-up: 2 places from $1, else 4; grouped). */
function money(total: string): string {
  const d = new Decimal(total)
  if (d.isZero()) return '$0.00'
  const fixed = d.abs().toFixed(d.abs().gte(1) ? 2 : 4, Decimal.ROUND_HALF_UP)
  const [int, frac] = fixed.split('.')
  return `${d.isNeg() ? '-' : ''}$${BigInt(int!).toLocaleString('en-US')}.${frac}`
}
const quantities = (c: Cost) => c.unpricedQuantity.map((q) => `${q.resource}=${q.quantity}`).join(';')

async function shownRecon(page: Page) {
  return page.$$eval('#recon-table tbody tr, #recon-table tfoot tr', (trs) => trs.map((tr) => {
    const f = (name: string) => tr.querySelector(`[data-field="${name}"]`)
    return {
      window: tr.getAttribute('data-window'), provider: tr.getAttribute('data-provider'), status: tr.getAttribute('data-status'),
      computed: f('computed')?.getAttribute('data-value'), billed: f('billed')?.getAttribute('data-value'),
      difference: f('difference')?.getAttribute('data-value'),
      texts: ['computed', 'billed', 'difference'].map((n) => f(n)?.textContent),
      statusText: f('status')?.textContent,
    }
  }))
}

/** The reconciliation table equals the API's answer for the UTC days of the range, row by row and in total. */
async function showsRecon(t: Test, page: Page, app: FastifyInstance, key: string, label: string) {
  const api = await apiRecon(app, key)
  const shown = await shownRecon(page)
  const cell = (v: string | null) => [v ?? '', v === null ? '–' : money(v)] as const
  // Computed with unpriced tokens is a cost with gaps, as everywhere on the page.
  const computedText = (r: { computed: string | null; unpricedTokens: number }) => r.computed === null || !r.unpricedTokens
    ? cell(r.computed)[1]
    : new Decimal(r.computed).isZero()
      ? `unpriced (${r.unpricedTokens.toLocaleString('en-US')} tokens)`
      : `${money(r.computed)} + ${r.unpricedTokens.toLocaleString('en-US')} unpriced tokens`
  t.same(shown.slice(0, -1).map((r) => [r.window, r.provider, r.computed, r.billed, r.difference, r.status, r.statusText]),
    api.rows.map((r) => [r.windowStart, r.provider ?? '', cell(r.computed)[0], cell(r.billed)[0], cell(r.difference)[0], r.status,
      r.status + (r.status === 'UNPRICED' && r.unpricedTokens ? ` (${r.unpricedTokens.toLocaleString('en-US')} tokens)` : '')]),
    `${label}: one row per API row, with its exact amounts and status`)
  t.same(shown.slice(0, -1).map((r) => r.texts), api.rows.map((r) => [computedText(r), cell(r.billed)[1], cell(r.difference)[1]]), `${label}: amounts as written`)
  const total = shown.at(-1)!
  t.same(total.texts, [computedText(api.totals), money(api.totals.billed), money(api.totals.difference)], `${label}: totals as written`)
  t.same([total.computed, total.billed, total.difference], [api.totals.computed, api.totals.billed, api.totals.difference], `${label}: totals are the API's`)
  t.equal(await page.getAttribute('#recon-table', 'data-from'), RANGE.from, 'UTC days, whatever the zone')
  return { api, shown }
}

t.test('dashboard in Chromium: reconciliation by day, resource stacking and unpriced resource quantities equal the API', { skip }, async (t) => {
  await eachEngine(t, async (t, engine) => {
    const app = await build(t, engine)
    const { key } = await tenantWithKey(app, ['ingest', 'read'])
    const posted = await app.inject({ method: 'POST', url: '/v1/usage/buckets', headers: bearer(key), payload: usageBody() })
    t.equal(posted.statusCode, 200, posted.body)
    await billDays(app, key, key, [{ day: DAYS[0]! }, { day: DAYS[1]!, plus: '0.25' }, { day: DAYS[2]!, amount: '1.5' }])

    const { origin, page, problems, foreign } = await servedPage(t, app)

    await page.goto(`${origin}/#${new URLSearchParams({ from: DAYS[0]!, to: DAYS[2]!, window: 'DAY', tz: 'UTC', group: 'RESOURCE' })}`)
    await page.fill('#key', key)
    await page.press('#key', 'Enter')
    await page.waitForSelector('#app[data-state="ready"]')

    // Reconciliation: the API's rows; among them a MATCH day, a MISMATCH day, a day billed only and the
    // unpriced resource's provider computed only.
    const { api, shown } = await showsRecon(t, page, app, key, engine)
    const status = (day: string, provider: string) => api.rows.find((r) => r.windowStart.startsWith(day) && r.provider === provider)?.status
    t.same([status(DAYS[0]!, 'openai'), status(DAYS[1]!, 'openai'), status(DAYS[2]!, 'openai'), status(DAYS[0]!, 'acme')],
      ['MATCH', 'MISMATCH', 'BILLED_ONLY', 'COMPUTED_ONLY'], 'the seeded bill gives each status')
    const unpricedRow = shown.find((r) => r.window?.startsWith(DAYS[1]!) && r.provider === 'acme')
    t.match(unpricedRow?.texts[0], /^unpriced \(5,700 tokens\)$/, 'computed usage without a price is named, not $0')
    t.equal(await page.isVisible('#recon-zone'), false, 'no zone note in UTC')
    t.equal(await page.isVisible('#recon-empty'), false)
    // Statuses are told apart by colour as well as by their word.
    const colours = await page.$$eval('#recon-table tbody .status', (els) => els.map((e) => {
      const style = (globalThis as unknown as { getComputedStyle(e: unknown): { backgroundColor: string } }).getComputedStyle(e)
      return `${e.textContent} ${style.backgroundColor}`
    }))
    t.equal(new Set(colours).size, new Set(shown.slice(0, -1).map((r) => r.status)).size, 'one colour per status')

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#recon-csv')])
    const csv = (await readFile((await download.path())!, 'utf8')).trim().split('\r\n').map((l) => l.split(','))
    t.same(csv[0], ['window_start', 'window_end', 'provider', 'computed', 'billed', 'difference', 'status', 'unpriced_tokens'])
    t.same(csv.slice(1, -1).map((l) => [l[0], l[2], l[3], l[4], l[5], l[6]]),
      api.rows.map((r) => [r.windowStart, r.provider ?? '', r.computed ?? '', r.billed ?? '', r.difference ?? '', r.status]), 'CSV: the rows shown')
    t.same(csv.at(-1)!.slice(2, 6), ['total', api.totals.computed, api.totals.billed, api.totals.difference])

    // Cost over time stacked by resource: tokens and the unpriced resource, named with its quantity.
    const usage = await apiByResource(app, key)
    const option = JSON.parse(await page.evaluate(`JSON.stringify(echarts.getInstanceByDom(document.getElementById('chart')).getOption().series.map(function (s) { return s.name; }))`)) as string[]
    t.same(option.sort(), [...new Set(usage.rows.map((r) => r.resource))].sort(), 'one series per resource')
    t.ok(option.includes('widget_renders') && option.includes('tokens'))
    const widget = usage.rows.find((r) => r.resource === 'widget_renders')!
    const cell = page.locator(`#series-table tr[data-window="${widget.windowStart}"] td[data-series="widget_renders"]`)
    t.equal(await cell.getAttribute('data-unpriced-quantity'), quantities(widget.cost), 'the cell carries the API’s unpriced quantity')
    t.equal(await cell.textContent(), `unpriced (${widget.cost.unpricedQuantity.map((q) => `${q.quantity} ${q.resource}`).join(', ')})`)
    t.match(await page.textContent('#chart-unpriced'), `widget_renders (${widget.cost.unpricedQuantity[0]!.quantity} unpriced widget_renders)`)

    // Completeness: the total is incomplete because of the resource, and says how much of it has no price.
    const c = usage.totals.cost
    t.equal(c.complete, false)
    t.equal(await page.getAttribute('#total-cost', 'data-value'), c.total)
    t.equal(await page.getAttribute('#completeness', 'data-unpriced-quantity'), quantities(c))
    t.equal(await page.textContent('#completeness'), [...(c.unpricedTokens ? [`${c.unpricedTokens.toLocaleString('en-US')} unpriced tokens`] : []),
      ...c.unpricedQuantity.map((q) => `${q.quantity} unpriced ${q.resource}`)].join(', ') + ', total incomplete (the amount above is a lower bound).')

    // Another zone: reconciliation still shows the UTC days of the chosen dates, and says so.
    await page.fill('#tz', 'Pacific/Auckland')
    await page.click('#apply')
    await page.waitForSelector('#app[data-state="ready"] #message:has-text("Pacific/Auckland")')
    t.equal(await page.isVisible('#recon-zone'), true)
    t.equal(await page.textContent('#recon-zone'), `Billed costs are UTC days, so this section shows UTC days ${DAYS[0]} to ${DAYS[2]}, not Pacific/Auckland days.`)
    await showsRecon(t, page, app, key, `${engine} Auckland`)

    // No billed costs stored: the empty state says how to store them, and no table is shown.
    const deleted = await app.inject({ method: 'DELETE', url: `/v1/billing/costs?start_time=${RANGE.from}&end_time=${RANGE.to}`, headers: bearer(key) })
    t.ok(deleted.statusCode < 300, deleted.body)
    await page.click('#apply')
    await page.waitForSelector('#app[data-state="ready"] #recon[data-state="ready"] #recon-empty:visible')
    t.match(await page.textContent('#recon-empty'), /No billed costs stored for these days — POST \/v1\/billing\/costs/)
    t.equal(await page.isVisible('#recon-table'), false)
    t.equal((await apiRecon(app, key)).rows.every((r) => r.billed === null), true, 'the API agrees: nothing billed')

    t.same(foreign, [], 'nothing loaded from elsewhere')
    t.same(problems, [], 'no script errors or CSP violations')
  })
})
