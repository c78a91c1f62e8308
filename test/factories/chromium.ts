import { existsSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { chromium, type BrowserContext } from 'playwright-core'
import type { Test } from 'tap'

/** Debian's chromium (`apt-get install chromium`; .ci/run installs it), driven by playwright-core. */
const CHROMIUM = '/usr/bin/chromium'
/** A browser test's `skip`: visible when the browser is not installed. */
export const skipWithoutChromium = existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (apt-get install -y chromium)`

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

/**
 * A browser on a fresh profile (removed by `close`), whose pages may reach `origin` only: any other request is
 * recorded in `foreign` and refused, so a page that needs a CDN fails visibly.
 */
export async function offlineBrowser(origin: string, viewport = { width: 1400, height: 1000 }) {
  const profile = await mkdtemp(join(tmpdir(), 'tl-chromium-'))
  const context: BrowserContext = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: ARGS,
    timeout: 60_000,
    viewport,
    acceptDownloads: true,
    timezoneId: 'UTC',
    locale: 'en-US',
  })
  const foreign: string[] = []
  await context.route('**/*', (route) => {
    const url = route.request().url()
    if (url.startsWith(`${origin}/`) || url.startsWith('data:') || url.startsWith('blob:')) return route.continue()
    foreign.push(url)
    return route.abort()
  })
  const close = async () => {
    await context.close()
    await rm(profile, { recursive: true, force: true })
  }
  return { context, foreign, close }
}

/**
 * `app` listening on a free port and an offline browser's page on it (closed at teardown): `problems`
 * collects the page's script errors and console errors, `foreign` what it tried to load from elsewhere.
 */
export async function servedPage(t: Test, app: FastifyInstance) {
  await app.listen({ port: 0, host: '127.0.0.1' })
  const origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  const browser = await offlineBrowser(origin)
  t.teardown(browser.close)
  const page = await browser.context.newPage()
  page.setDefaultTimeout(60_000)
  const problems: string[] = []
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`))
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console: ${msg.text()}`)
  })
  return { origin, page, problems, foreign: browser.foreign }
}
