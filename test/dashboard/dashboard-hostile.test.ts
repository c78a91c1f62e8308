import type { FastifyInstance } from 'fastify'
import type { Page } from 'playwright-core'
import t from 'tap'
import { admin, bearer, build, eachEngine, tenantWithKey, uniqueId } from '../helpers.js'
import { servedPage, skipWithoutChromium } from '../factories/chromium.js'

// The dashboard as a hostile tenant and a confused user see it: names that tenants choose (models,
// projects) hold markup, bidi controls and 256 characters without a break, and none of the usage has a price.

const skip = skipWithoutChromium

/** One bucket per name on its own November day, on a provider with no price: every token is unpriced. */
async function seedUnpriced(app: FastifyInstance, models: string[]) {
  const { key: ingest, tenantId } = await tenantWithKey(app, ['ingest'], uniqueId('hostile'))
  const buckets = models.map((model, i) => ({
    start_time: `2026-11-${String(i + 1).padStart(2, '0')}T12:00:00Z`, end_time: `2026-11-${String(i + 1).padStart(2, '0')}T13:00:00Z`,
    provider: 'unpriced-co', model, num_model_requests: 1, input_tokens: 1000 + i, output_tokens: 1,
  }))
  const res = await app.inject({ method: 'POST', url: '/v1/usage/buckets', headers: bearer(ingest), payload: { buckets } })
  if (res.statusCode >= 300) throw new Error(`buckets: ${res.statusCode} ${res.body}`)
  const read = await app.inject({ method: 'POST', url: `/v1/tenants/${tenantId}/api-keys`, headers: admin, payload: { name: 'dashboard', scopes: ['read'] } })
  const { key } = read.json() as { key: string }
  return { key, tokens: buckets.reduce((n, b) => n + b.input_tokens + b.output_tokens, 0) }
}

async function show(page: Page, origin: string, key: string, days: number) {
  const to = `2026-11-${String(days).padStart(2, '0')}`
  await page.goto(`${origin}/#${new URLSearchParams({ from: '2026-11-01', to, window: 'DAY', tz: 'UTC', group: 'MODEL' })}`)
  await page.fill('#key', key)
  await page.click('#key-save')
  await page.waitForSelector('#app[data-state="ready"], #app[data-state="error"]')
}

t.test('dashboard in Chromium: a total with no price at all is written as unpriced, never $0.00', { skip }, async (t) => {
  await eachEngine(t, async (t, engine) => {
    const app = await build(t, engine)
    const { key, tokens } = await seedUnpriced(app, ['mystery-model-a', 'mystery-model-b'])
    const { origin, page, problems } = await servedPage(t, app)
    await show(page, origin, key, 2)
    t.equal(await page.getAttribute('#app', 'data-state'), 'ready', String(await page.textContent('#message')))
    t.equal(await page.getAttribute('#total-cost', 'data-value'), '0', 'the exact total is the API’s 0')
    t.equal(await page.getAttribute('#total-cost', 'data-complete'), 'false')
    t.equal(await page.textContent('#total-cost'), `unpriced (${tokens.toLocaleString('en-US')} tokens)`,
      'the headline says what has no price, as every other cost on the page does')
    t.equal(await page.textContent('#classes-table tfoot td[data-complete]'), `unpriced (${tokens.toLocaleString('en-US')} tokens)`,
      'the same words as the tokens-by-class total')
    t.same(problems, [], 'no script errors')
  })
})
