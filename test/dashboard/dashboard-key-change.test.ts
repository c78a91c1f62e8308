import type { FastifyInstance } from 'fastify'
import type { Page } from 'playwright-core'
import t from 'tap'
import { admin, bearer, build, eachEngine, tenantWithKey, uniqueId } from '../helpers.js'
import { servedPage, skipWithoutChromium } from '../factories/chromium.js'

// One browser tab, two tenants' keys, one after the other (a shared screen, a support engineer). What a
// section showed for the first key stayed on the page when the key was forgotten (with its CSV still
// downloadable), and when the second key's answer failed for some sections those kept the first tenant's
// numbers beside the second tenant's: tenant A's total over tenant B's top projects, under B's key.

const skip = skipWithoutChromium
const RANGE = { from: '2026-11-01', to: '2026-11-03', window: 'DAY', tz: 'UTC', group: 'MODEL' }

/** A tenant with one priced bucket of `model` in `project` (tokens make its cost distinct) and a read key. */
async function tenantUsing(app: FastifyInstance, model: string, project: string, inputTokens: number) {
  const { key: ingest, tenantId } = await tenantWithKey(app, ['ingest'], uniqueId(project))
  const buckets = [{ start_time: '2026-11-02T10:00:00Z', end_time: '2026-11-02T11:00:00Z', provider: 'openai', model: 'gpt-4o',
    project_id: project, num_model_requests: 1, input_tokens: inputTokens, output_tokens: 10 }]
  buckets.push({ ...buckets[0]!, model, start_time: '2026-11-02T11:00:00Z', end_time: '2026-11-02T12:00:00Z' })
  const res = await app.inject({ method: 'POST', url: '/v1/usage/buckets', headers: bearer(ingest), payload: { buckets } })
  if (res.statusCode >= 300) throw new Error(`buckets: ${res.statusCode} ${res.body}`)
  const read = await app.inject({ method: 'POST', url: `/v1/tenants/${tenantId}/api-keys`, headers: admin, payload: { name: 'dashboard', scopes: ['read'] } })
  return (read.json() as { key: string }).key
}

async function useKey(page: Page, key: string) {
  await page.fill('#key', key)
  await page.click('#key-save')
  await page.waitForSelector('#app[data-state="ready"], #app[data-state="error"], #app[data-state="needs-key"]')
}

/** Every text the sections hold (tables, totals, notes, the chart's SVG) and the CSV buttons one may click. */
async function shown(page: Page): Promise<{ text: string; csv: string[] }> {
  return page.evaluate(`({
    text: Array.from(document.querySelectorAll('main section')).map(function (s) { return s.textContent; }).join('\\n'),
    csv: Array.from(document.querySelectorAll('button[id$="-csv"]')).filter(function (b) { return !b.disabled; }).map(function (b) { return b.id; }),
  })`)
}

t.test('dashboard in Chromium: one tenant’s numbers never outlive its key', { skip }, async (t) => {
  await eachEngine(t, async (t, engine) => {
    const app = await build(t, engine)
    const keyA = await tenantUsing(app, 'alpha-private-model', 'alpha-private-project', 1_000_000)
    const keyB = await tenantUsing(app, 'bravo-model', 'bravo-project', 2_000)
    const { origin, page, problems } = await servedPage(t, app)
    await page.goto(`${origin}/#${new URLSearchParams(RANGE)}`)

    await useKey(page, keyA)
    t.equal(await page.getAttribute('#app', 'data-state'), 'ready', String(await page.textContent('#message')))
    const totalA = (await page.textContent('#total-cost'))!
    t.match((await shown(page)).text, 'alpha-private-model', 'tenant A is shown')

    await page.click('#key-forget')
    let now = await shown(page)
    t.notMatch(now.text, 'alpha-private', 'forgetting the key takes its tenant’s names off the page')
    t.notMatch(now.text, totalA, 'and its amounts')
    t.same(now.csv, [], 'and no CSV of them can be downloaded')

    await useKey(page, keyA)
    t.equal(await page.getAttribute('#app', 'data-state'), 'ready')
    // B's key, and the queries grouped by model (the over-time view, top models) fail: a proxy's 500.
    await page.route('**/graphql', async (route) => {
      const groupBy = (route.request().postDataJSON() as { variables?: { groupBy?: string[] } }).variables?.groupBy
      if (groupBy?.[0] !== 'MODEL') return route.continue()
      return route.fulfill({ status: 500, contentType: 'application/problem+json', json: { title: 'Internal Server Error', status: 500 } })
    })
    await useKey(page, keyB)
    t.equal(await page.getAttribute('#app', 'data-state'), 'error')
    t.equal(await page.getAttribute('#overview', 'data-state'), 'error')
    t.equal(await page.getAttribute('#top-model', 'data-state'), 'error')
    now = await shown(page)
    t.match(now.text, 'bravo-project', 'tenant B’s projects are shown')
    t.notMatch(now.text, 'alpha-private', 'no name of tenant A beside them')
    t.notMatch(now.text, totalA, 'no amount of tenant A')
    t.notOk(now.csv.includes('overview-csv') || now.csv.includes('top-model-csv'), 'a failed section offers no CSV')

    // A refused key (401) asks for another one, and shows nothing of the key before it either.
    await page.unroute('**/graphql')
    await useKey(page, keyB)
    t.equal(await page.getAttribute('#app', 'data-state'), 'ready')
    await useKey(page, `${keyB.slice(0, -4)}xxxx`)
    t.equal(await page.getAttribute('#app', 'data-state'), 'needs-key')
    now = await shown(page)
    t.notMatch(now.text, 'bravo', 'nothing of tenant B once its key is refused')
    t.same(now.csv, [])
    t.same(problems.filter((p) => !/status of (401|500)/.test(p)), [], 'no script errors')
  })
})
