import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import t from 'tap'
import { build } from '../helpers.js'

const require = createRequire(import.meta.url)
const installed = (pkg: string, file: string) => readFileSync(join(dirname(require.resolve(`${pkg}/package.json`)), file))

/** The files GraphiQL needs, read straight from the installed packages (not through the server's code). */
const EXPECTED = [
  { pkg: 'react', file: 'umd/react.production.min.js', type: /^text\/javascript/ },
  { pkg: 'react-dom', file: 'umd/react-dom.production.min.js', type: /^text\/javascript/ },
  { pkg: 'graphiql', file: 'graphiql.min.js', type: /^text\/javascript/ },
  { pkg: 'graphiql', file: 'graphiql.min.css', type: /^text\/css/ },
]

/** Every src= and href= of the page, resolved the way a browser resolves them against /graphiql. */
function references(html: string): string[] {
  return [...html.matchAll(/\b(?:src|href)="([^"]*)"/g)].map((m) => m[1]!)
}
const resolve = (ref: string) => new URL(ref, 'http://tokenledger.test/graphiql')

// The page touches no database, so one app (on PGlite) serves every test of this file.
const app = await build(t, 'pglite')

t.test('GET /graphiql serves the page without auth, with no URL outside this origin', async (t) => {
  const res = await app.inject({ method: 'GET', url: '/graphiql' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/html; charset=utf-8/)
  t.notMatch(res.body, /https?:\/\//i, 'no absolute http(s) URL anywhere in the page')
  t.notMatch(res.body, /(?:src|href)="\/\//, 'no protocol-relative URL')
  const csp = String(res.headers['content-security-policy'])
  t.match(csp, /default-src 'none'/)
  t.match(csp, /script-src 'self'(;|$)/, 'scripts only from this origin, none inline')
  t.match(csp, /connect-src 'self'/)
  t.equal(res.headers['cache-control'], 'no-cache')
  const refs = references(res.body)
  t.equal(refs.length, 5, 'stylesheet, react, react-dom, graphiql and the bootstrap script')
  for (const ref of refs) t.equal(resolve(ref).origin, 'http://tokenledger.test', `${ref} stays on this origin`)
})

t.test('every asset the page references answers 200 without auth, as the installed package file', async (t) => {
  const html = (await app.inject('/graphiql')).body
  const served = new Map<string, Buffer>()
  for (const ref of references(html)) {
    const res = await app.inject({ method: 'GET', url: resolve(ref).pathname })
    t.equal(res.statusCode, 200, `${ref} → 200`)
    t.equal(res.headers['cache-control'], 'public, max-age=31536000, immutable', `${ref} is cached for a year`)
    t.equal(res.headers['x-content-type-options'], 'nosniff')
    t.ok(res.headers.etag, `${ref} has an ETag`)
    served.set(ref, res.rawPayload)
  }
  for (const { pkg, file, type } of EXPECTED) {
    const bytes = installed(pkg, file)
    const hit = [...served.entries()].find(([, body]) => body.equals(bytes))
    t.ok(hit, `${pkg}/${file} is served byte for byte`)
    if (!hit) continue
    const res = await app.inject(resolve(hit[0]).pathname)
    t.match(res.headers['content-type'], type, `${pkg}/${file} content type`)
  }
  const bootstrap = references(html).find((r) => r.includes('bootstrap'))
  t.ok(bootstrap, 'the page loads its bootstrap script')
  const script = served.get(bootstrap!)!.toString()
  t.notMatch(script, /https?:\/\//i, 'the bootstrap script names no absolute URL')
  t.match(script, /authorization/, 'the bootstrap script sends the token as the Authorization header')
})

t.test('assets are gzip-compressed on request and revalidate with their ETag', async (t) => {
  const js = references((await app.inject('/graphiql')).body).find((r) => r.includes('graphiql.') && r.endsWith('.js'))!
  const url = resolve(js).pathname
  const zipped = await app.inject({ url, headers: { 'accept-encoding': 'gzip, br' } })
  t.equal(zipped.statusCode, 200)
  t.equal(zipped.headers['content-encoding'], 'gzip')
  t.ok(gunzipSync(zipped.rawPayload).equals(installed('graphiql', 'graphiql.min.js')), 'gunzips to the package file')
  const again = await app.inject({ url, headers: { 'if-none-match': String(zipped.headers.etag) } })
  t.equal(again.statusCode, 304)
  t.equal(again.body, '')
})

t.test('unknown assets are 404, and /graphql itself still needs a token', async (t) => {
  t.equal((await app.inject('/graphiql/assets/nope.js')).statusCode, 404)
  t.equal((await app.inject('/graphiql/assets/..%2fpackage.json')).statusCode, 404)
  const gql = await app.inject({ method: 'POST', url: '/graphql', payload: { query: '{ __typename }' } })
  t.equal(gql.statusCode, 401)
})

t.test('the GraphiQL routes stay out of the OpenAPI document', async (t) => {
  const doc = (await app.inject('/docs/json')).json() as { paths: Record<string, unknown> }
  t.same(Object.keys(doc.paths).filter((p) => p.startsWith('/graphiql')), [])
})
