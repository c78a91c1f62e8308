import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { promisify } from 'node:util'
import { gzip } from 'node:zlib'
import type { FastifyReply, FastifyRequest } from 'fastify'

/**
 * In-memory static assets for the pages the server serves itself (GraphiQL, the dashboard): files of
 * installed packages and strings compiled into the server, so nothing depends on where src/ or dist/ is and
 * no page needs a CDN.
 */

const gzipAsync = promisify(gzip)
const require = createRequire(import.meta.url)

export const JS = 'text/javascript; charset=utf-8'
export const CSS = 'text/css; charset=utf-8'
export const HTML = 'text/html; charset=utf-8'

export interface Asset {
  body: Buffer
  type: string
  etag: string
  gzipped?: Promise<Buffer>
}

/** A file from an installed package. Resolved via package.json because some `exports` maps hide dist files. */
export function packageFile(pkg: string, file: string): Buffer {
  return readFileSync(join(dirname(require.resolve(`${pkg}/package.json`)), file))
}

export function asset(body: Buffer | string, type: string): Asset {
  const buf = typeof body === 'string' ? Buffer.from(body) : body
  return { body: buf, type, etag: `"${createHash('sha256').update(buf).digest('base64url').slice(0, 22)}"` }
}

/** Content-addressed file name: a new package version gets a new URL, so assets can be cached forever. */
const hashedName = (name: string, a: Asset) => name.replace(/(\.min)?\.(js|css)$/, `.${a.etag.slice(1, 13)}$&`)

/**
 * The files a page serves, each under its content-addressed name (`hashedName`): the assets by file name,
 * and each file's URL as `dir/<file>` (a relative URL, so a page works behind a proxy's path prefix).
 */
export function hashedAssets<K extends string>(files: Record<K, readonly [name: string, a: Asset]>, dir: string): { assets: Map<string, Asset>; urls: Record<K, string> } {
  const assets = new Map<string, Asset>()
  const urls = {} as Record<K, string>
  for (const key of Object.keys(files) as K[]) {
    const [name, a] = files[key]
    const file = hashedName(name, a)
    assets.set(file, a)
    urls[key] = `${dir}/${file}`
  }
  return { assets, urls }
}

/** A URL as a double-quoted HTML attribute value. */
export const attr = (url: string) => `"${url.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;')}"`

/** The opening of every page the server renders, up to its stylesheet: UTF-8, mobile viewport, no referrer. */
export const pageHead = (title: string, cssUrl: string) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title}</title>
<link rel="stylesheet" href=${attr(cssUrl)}>`

/**
 * Whether a response may be gzipped for this Accept-Encoding (RFC 9110 §12.5.3). A coding with q=0 is
 * "not acceptable", not merely least preferred: `gzip;q=0`, `*;q=0` and a header naming only `identity`
 * get the asset as it is. `x-gzip` is gzip; `*` stands for every coding the header does not name, identity
 * included. Gzip is chosen when acceptable and not weighted below identity. No header at all gets the
 * asset as it is too: that client may not decode anything.
 */
function acceptsGzip(header: string | undefined): boolean {
  if (header === undefined) return false
  const weights = new Map<string, number>()
  for (const entry of header.split(',')) {
    const [name = '', ...params] = entry.split(';')
    const coding = name.trim().toLowerCase()
    if (!coding) continue
    const q = params.map((p) => /^\s*q\s*=\s*(\S*)\s*$/i.exec(p)?.[1]).find((v) => v !== undefined)
    // A weight that is not a qvalue (0 … 1, at most three decimals) counts as "not acceptable".
    const weight = q === undefined ? 1 : /^(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(q) ? Number(q) : 0
    weights.set(coding === 'x-gzip' ? 'gzip' : coding, weight)
  }
  const gzip = weights.get('gzip') ?? weights.get('*') ?? 0
  const identity = weights.get('identity') ?? weights.get('*')
  return gzip > 0 && (identity === undefined || gzip >= identity)
}

/** Sends an asset with its ETag (304 on a match), gzipped when the client accepts it (acceptsGzip). */
export async function sendAsset(req: FastifyRequest, reply: FastifyReply, a: Asset, cacheControl: string) {
  reply.header('cache-control', cacheControl).header('etag', a.etag).header('x-content-type-options', 'nosniff')
  reply.header('vary', 'accept-encoding')
  if (req.headers['if-none-match'] === a.etag) return reply.code(304).send()
  reply.type(a.type)
  // Library bundles are megabytes; each is compressed once, on first use, so app start stays cheap.
  if (a.body.length > 1024 && acceptsGzip(req.headers['accept-encoding'])) {
    a.gzipped ??= gzipAsync(a.body)
    return reply.header('content-encoding', 'gzip').send(await a.gzipped)
  }
  return reply.send(a.body)
}

/** Cache policy of content-hashed asset URLs, and of the pages naming them (revalidated to pick up new ones). */
export const IMMUTABLE = 'public, max-age=31536000, immutable'
export const REVALIDATE = 'no-cache'
