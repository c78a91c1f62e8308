/**
 * Regenerates docs/dashboard.png: an in-memory server with the dashboard test's data set (test/factories/
 * dashboard.ts), opened in Debian's chromium as a user would — key pasted, range set — and photographed.
 * Usage: npm run docs:screenshot
 */
import { randomBytes } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import Fastify from 'fastify'
import app from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { offlineBrowser, skipWithoutChromium } from '../test/factories/chromium.js'
import { billDays, DASHBOARD_RANGE, seedDashboard } from '../test/factories/dashboard.js'

const OUT = fileURLToPath(new URL('../docs/dashboard.png', import.meta.url))

async function main() {
  if (skipWithoutChromium) throw new Error(skipWithoutChromium)
  const adminToken = randomBytes(24).toString('hex')
  const config = loadConfig({ DATA_DIR: 'memory://', LOG_LEVEL: 'silent', TOKENLEDGER_ADMIN_TOKEN: adminToken })
  const server = Fastify({ logger: false, pluginTimeout: 120_000 })
  await server.register(app, { config })
  await server.ready()
  try {
    const { readKey, tenantId, ingestKey } = await seedDashboard(server, adminToken)
    // Resources beside the tokens: DALL·E 2 images and file searches the default card prices, and gpt-image-1
    // images it cannot (their price depends on a quality the usage does not carry) on two days — named as
    // unpriced, and those days' reconciliation is UNPRICED.
    const resources = Array.from({ length: 14 }, (_, i) => {
      const start = new Date(Date.UTC(2026, 10, i + 1, 12)).toISOString()
      const end = new Date(Date.UTC(2026, 10, i + 1, 13)).toISOString()
      const row = (model: string | null, resource: string, quantity: number, attributes: Record<string, string> = {}) =>
        ({ start_time: start, end_time: end, provider: 'openai', model, project_id: 'proj_web', resource, quantity, attributes })
      const priced = [row('dall-e-2', 'images', 40 + (i % 5) * 7, { size: '1024x1024' }), row(null, 'file_search_calls', 300 + i * 20)]
      return i === 8 || i === 9 ? [...priced, row('gpt-image-1', 'images', 3 + i)] : priced
    }).flat()
    const posted = await server.inject({ method: 'POST', url: '/v1/usage/buckets', headers: { authorization: `Bearer ${ingestKey}` }, payload: { resources } })
    if (posted.statusCode !== 200) throw new Error(`resources: ${posted.statusCode} ${posted.body}`)
    // A bill for the reconciliation section: OpenAI and Anthropic billed as computed on most days, one day
    // 37 cents over, OpenAI's last day not billed yet, and a provider whose usage never arrived (BILLED_ONLY).
    const days = Array.from({ length: 13 }, (_, i) => `2026-11-${String(i + 1).padStart(2, '0')}`)
    await billDays(server, ingestKey, readKey, days.map((day) => ({ day, plus: day === '2026-11-05' ? '0.37' : '0' })))
    await billDays(server, ingestKey, readKey, [...days.map((day) => ({ day })), { day: DASHBOARD_RANGE.to }], 'anthropic')
    await billDays(server, ingestKey, readKey, [{ day: '2026-11-07', amount: '2.4' }], 'mistral')
    // The same two budgets as the browser test: one over its amount, one including unpriced usage.
    for (const [name, body] of [
      ['web-monthly', { amount: '40', period: 'month', filter: { project_ids: ['proj_web'] }, thresholds: [50, 80, 100, 200] }],
      ['research-weekly', { amount: '1234.5', period: 'week', time_zone: 'Europe/Paris', filter: { project_ids: ['proj_research'] }, thresholds: [10, 90] }],
    ] as const) {
      const res = await server.inject({ method: 'PUT', url: `/v1/budgets/${name}`, headers: { authorization: `Bearer ${adminToken}`, 'x-tenant-id': tenantId }, payload: body })
      if (res.statusCode !== 201) throw new Error(`budget ${name}: ${res.statusCode} ${res.body}`)
    }
    await server.listen({ port: 0, host: '127.0.0.1' })
    const origin = `http://127.0.0.1:${(server.server.address() as AddressInfo).port}`
    const browser = await offlineBrowser(origin, { width: 1400, height: 900 })
    try {
      const page = await browser.context.newPage()
      const view = new URLSearchParams({ ...DASHBOARD_RANGE, window: 'DAY', tz: 'UTC', group: 'MODEL' })
      await page.goto(`${origin}/#${view}`)
      await page.fill('#key', readKey)
      await page.press('#key', 'Enter')
      await page.waitForSelector('#app[data-state="ready"]', { timeout: 60_000 })
      await page.evaluate('document.activeElement && document.activeElement.blur()') // no focus ring in the picture
      await page.screenshot({ path: OUT, fullPage: true })
      if (browser.foreign.length) throw new Error(`the page asked for other origins: ${browser.foreign.join(', ')}`)
    } finally {
      await browser.close()
    }
  } finally {
    await server.close()
  }
  process.stdout.write(`wrote ${OUT}\n`)
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`)
  process.exitCode = 1
})
