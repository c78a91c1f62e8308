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
import { hasChromium, offlineBrowser, CHROMIUM } from '../test/factories/chromium.js'
import { DASHBOARD_RANGE, seedDashboard } from '../test/factories/dashboard.js'

const OUT = fileURLToPath(new URL('../docs/dashboard.png', import.meta.url))

async function main() {
  if (!hasChromium()) throw new Error(`${CHROMIUM} is not installed (apt-get install -y chromium)`)
  const adminToken = randomBytes(24).toString('hex')
  const config = loadConfig({ DATA_DIR: 'memory://', LOG_LEVEL: 'silent', TOKENLEDGER_ADMIN_TOKEN: adminToken })
  const server = Fastify({ logger: false, pluginTimeout: 120_000 })
  await server.register(app, { config })
  await server.ready()
  try {
    const { readKey, tenantId } = await seedDashboard(server, adminToken)
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
