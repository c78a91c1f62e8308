import type { FastifyPluginAsync } from 'fastify'
import { asset, CSS, hashedAssets, HTML, IMMUTABLE, JS, packageFile, REVALIDATE, sendAsset, type Asset } from '../http/static-assets.js'
import { BOOTSTRAP_JS, renderPage } from './graphiql-page.js'

/** Where the page lives; its assets are under `${PAGE_PATH}/assets/`. */
const PAGE_PATH = '/graphiql'

/**
 * The page may load nothing but this origin: no CDN, no third-party requests (GraphiQL must work offline).
 * GraphiQL's CSS-in-JS injects <style> elements, hence 'unsafe-inline' for styles only; its fonts are data:
 * URIs inside graphiql.min.css.
 */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

function loadGraphiqlAssets(): { page: Asset; assets: Map<string, Asset> } {
  const files = {
    css: ['graphiql.min.css', asset(packageFile('graphiql', 'graphiql.min.css'), CSS)],
    react: ['react.production.min.js', asset(packageFile('react', 'umd/react.production.min.js'), JS)],
    reactDom: ['react-dom.production.min.js', asset(packageFile('react-dom', 'umd/react-dom.production.min.js'), JS)],
    graphiql: ['graphiql.min.js', asset(packageFile('graphiql', 'graphiql.min.js'), JS)],
    bootstrap: ['bootstrap.js', asset(BOOTSTRAP_JS, JS)],
  } as const
  const { assets, urls } = hashedAssets(files, 'graphiql/assets') // relative to /graphiql
  return { page: asset(renderPage(urls), HTML), assets }
}

/**
 * GET /graphiql: a GraphiQL page that needs no auth (the token is entered in the page) and no network
 * beyond this server. Registered beside, not inside, the GraphQL plugin so its auth hook does not apply.
 */
const graphiqlPlugin: FastifyPluginAsync = async (app) => {
  const { page, assets } = loadGraphiqlAssets()
  const hidden = { schema: { hide: true } }

  app.get(PAGE_PATH, hidden, async (req, reply) => {
    reply.header('content-security-policy', CSP).header('referrer-policy', 'no-referrer')
    // The page names content-hashed assets, so it must be revalidated to pick up new ones.
    return sendAsset(req, reply, page, REVALIDATE)
  })

  app.get<{ Params: { file: string } }>(`${PAGE_PATH}/assets/:file`, hidden, async (req, reply) => {
    const a = assets.get(req.params.file)
    if (!a) return reply.callNotFound()
    return sendAsset(req, reply, a, IMMUTABLE)
  })
}

export default graphiqlPlugin
