import t from 'tap'
import { ADMIN_TOKEN, build, eachEngine } from '../helpers.js'
import { servedPage, skipWithoutChromium } from '../factories/chromium.js'
import { DASHBOARD_RANGE, seedDashboard } from '../factories/dashboard.js'

// A view whose answer cannot be drawn (here the server's real answer with its totals' cost removed, as a
// proxy or a server of another version could send it) threw inside `render`: the error skipped the
// loading bookkeeping, so the page said "Loading usage…" forever, the section stayed busy and the error
// surfaced only as an unhandled rejection. It must end in the error state, saying what happened, with
// the other views shown.

const skip = skipWithoutChromium

void eachEngine(t, async (t, engine) => {
  t.test(`dashboard in Chromium (${engine}): a view whose answer cannot be drawn shows an error, not "Loading…" forever`, { skip }, async (t) => {
    const app = await build(t, engine)
    const { readKey } = await seedDashboard(app, ADMIN_TOKEN, `acme-render-${engine}`)
    const { origin, page, problems, foreign } = await servedPage(t, app)
    await page.goto(`${origin}/#${new URLSearchParams({ ...DASHBOARD_RANGE, tz: 'UTC' })}`)
    await page.fill('#key', readKey)
    await page.click('#key-save')
    await page.waitForSelector('#app[data-state="ready"]')

    // The over-time view (window DAY) gets its real answer without totals.cost; the other views are untouched.
    await page.route('**/graphql', async (route) => {
      const variables = (route.request().postDataJSON() as { variables?: { window?: string } }).variables
      const res = await route.fetch()
      if (variables?.window !== 'DAY') return route.fulfill({ response: res })
      const json = (await res.json()) as { data: { usage: { totals: { cost: unknown } } } }
      json.data.usage.totals.cost = null
      return route.fulfill({ response: res, json })
    })
    await page.click('#apply')
    await page.waitForSelector('#app[data-state="error"]', { timeout: 20_000 })
    t.match(await page.textContent('#message'), /^The answer from the server could not be shown \(.+\)\. Try again; if it persists, the server’s answer is not what this page expects\.$/)
    t.equal(await page.getAttribute('#message', 'class'), 'alert')
    t.equal(await page.getAttribute('#overview', 'data-state'), 'error')
    t.equal(await page.getAttribute('#overview', 'aria-busy'), null, 'no longer busy')
    for (const id of ['top-project', 'top-api-key', 'top-model', 'classes', 'budgets'])
      t.equal(await page.getAttribute(`#${id}`, 'data-state'), 'ready', `${id} is shown`)

    // A good answer again: the page recovers.
    await page.unroute('**/graphql')
    await page.click('#apply')
    await page.waitForSelector('#app[data-state="ready"]')
    t.equal(await page.getAttribute('#overview', 'data-state'), 'ready')
    t.same(problems, [], 'no uncaught script errors')
    t.same(foreign, [])
  })
})
