import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { promisify } from 'node:util'
import { gzip } from 'node:zlib'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { BOOTSTRAP_JS, renderPage } from './graphiql-page.js'

const gzipAsync = promisify(gzip)
const require = createRequire(import.meta.url)

/** Where the page lives; its assets are under `${PAGE_PATH}/assets/`. */
export const PAGE_PATH = '/graphiql'

const JS = 'text/javascript; charset=utf-8'
const CSS = 'text/css; charset=utf-8'

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

interface Asset {
  body: Buffer
  type: string
  etag: string
  gzipped?: Promise<Buffer>
}

/** A file from an installed package. Resolved via package.json because react's `exports` hide umd/. */
function packageFile(pkg: string, file: string): Buffer {
  return readFileSync(join(dirname(require.resolve(`${pkg}/package.json`)), file))
}

function asset(body: Buffer | string, type: string): Asset {
  const buf = typeof body === 'string' ? Buffer.from(body) : body
  return { body: buf, type, etag: `"${createHash('sha256').update(buf).digest('base64url').slice(0, 22)}"` }
}

/** Content-addressed file name: a new package version gets a new URL, so assets can be cached forever. */
const hashedName = (name: string, a: Asset) => name.replace(/(\.min)?\.(js|css)$/, `.${a.etag.slice(1, 13)}$&`)

export function loadGraphiqlAssets(): { page: Asset; assets: Map<string, Asset> } {
  const files = {
    css: ['graphiql.min.css', asset(packageFile('graphiql', 'graphiql.min.css'), CSS)],
    react: ['react.production.min.js', asset(packageFile('react', 'umd/react.production.min.js'), JS)],
    reactDom: ['react-dom.production.min.js', asset(packageFile('react-dom', 'umd/react-dom.production.min.js'), JS)],
    graphiql: ['graphiql.min.js', asset(packageFile('graphiql', 'graphiql.min.js'), JS)],
    bootstrap: ['bootstrap.js', asset(BOOTSTRAP_JS, JS)],
  } as const
  const assets = new Map<string, Asset>()
  const urls = {} as Record<keyof typeof files, string>
  for (const [key, [name, a]] of Object.entries(files) as [keyof typeof files, (typeof files)[keyof typeof files]][]) {
    const file = hashedName(name, a)
    assets.set(file, a)
    urls[key] = `graphiql/assets/${file}` // relative to /graphiql
  }
  return { page: asset(renderPage(urls), 'text/html; charset=utf-8'), assets }
}

async function send(req: FastifyRequest, reply: FastifyReply, a: Asset, cacheControl: string) {
  reply.header('cache-control', cacheControl).header('etag', a.etag).header('x-content-type-options', 'nosniff')
  reply.header('vary', 'accept-encoding')
  if (req.headers['if-none-match'] === a.etag) return reply.code(304).send()
  reply.type(a.type)
  // graphiql.min.js is ~3.5 MB; compressed once, on first use, so app start stays cheap.
  if (a.body.length > 1024 && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
    a.gzipped ??= gzipAsync(a.body)
    return reply.header('content-encoding', 'gzip').send(await a.gzipped)
  }
  return reply.send(a.body)
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
    return send(req, reply, page, 'no-cache')
  })

  app.get<{ Params: { file: string } }>(`${PAGE_PATH}/assets/:file`, hidden, async (req, reply) => {
    const a = assets.get(req.params.file)
    if (!a) return reply.callNotFound()
    return send(req, reply, a, 'public, max-age=31536000, immutable')
  })
}

export default graphiqlPlugin
