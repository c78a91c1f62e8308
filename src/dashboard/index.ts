import type { FastifyPluginAsync } from 'fastify'
import { asset, CSS, hashedAssets, HTML, IMMUTABLE, JS, packageFile, REVALIDATE, sendAsset, type Asset } from '../http/static-assets.js'
import { API_JS } from './client/api.js'
import { BUDGETS_JS } from './client/budgets.js'
import { DECIMAL_JS } from './client/decimal.js'
import { FORMAT_JS } from './client/format.js'
import { MAIN_JS } from './client/main.js'
import { OVERVIEW_JS } from './client/overview.js'
import { RECON_JS } from './client/recon.js'
import { TABLES_JS } from './client/tables.js'
import { TIME_JS } from './client/time.js'
import { DASHBOARD_CSS, renderDashboardPage } from './page.js'

/** Where the dashboard's assets live (the page itself is `/`). */
const ASSET_PATH = '/dashboard/assets'

/**
 * Nothing but this origin: no CDN, no third-party requests (the dashboard works offline). Styles allow
 * 'unsafe-inline' because ECharts positions its tooltip and legend markers with inline styles; scripts do not.
 */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

/** The browser code: plain ES2020 parts sharing one function scope, in dependency order. */
const DASHBOARD_JS = `(function () {\n'use strict';\n${[DECIMAL_JS, TIME_JS, FORMAT_JS, API_JS, OVERVIEW_JS, TABLES_JS, BUDGETS_JS, RECON_JS, MAIN_JS].join('\n')}\n})();\n`

export function loadDashboardAssets(): { page: Asset; assets: Map<string, Asset> } {
  const files = {
    css: ['dashboard.css', asset(DASHBOARD_CSS, CSS)],
    // The "common" build: bar/line/pie, tooltip, legend, aria and the SVG renderer, at ~60% of the full one.
    echarts: ['echarts.common.min.js', asset(packageFile('echarts', 'dist/echarts.common.min.js'), JS)],
    app: ['dashboard.js', asset(DASHBOARD_JS, JS)],
  } as const
  const { assets, urls } = hashedAssets(files, ASSET_PATH.slice(1)) // relative to /
  return { page: asset(renderDashboardPage(urls), HTML), assets }
}

/**
 * GET /: the dashboard. The page needs no auth (the read key is entered in it and sent only to /graphql);
 * registered outside the GraphQL plugin so its auth hook does not apply.
 */
const dashboardPlugin: FastifyPluginAsync = async (app) => {
  const { page, assets } = loadDashboardAssets()
  const hidden = { schema: { hide: true } }

  app.get('/', hidden, async (req, reply) => {
    reply.header('content-security-policy', CSP).header('referrer-policy', 'no-referrer')
    return sendAsset(req, reply, page, REVALIDATE)
  })

  app.get<{ Params: { file: string } }>(`${ASSET_PATH}/:file`, hidden, async (req, reply) => {
    const a = assets.get(req.params.file)
    if (!a) return reply.callNotFound()
    return sendAsset(req, reply, a, IMMUTABLE)
  })
}

export default dashboardPlugin
