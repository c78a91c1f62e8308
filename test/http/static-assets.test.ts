import { request } from 'node:http'
import type { AddressInfo } from 'node:net'
import { gunzipSync } from 'node:zlib'
import t from 'tap'
import { build, eachEngine } from '../helpers.js'

// Content coding of the pages' static assets (src/http/static-assets.ts) over a real socket, so the
// Accept-Encoding sent is exactly the one in the table (fetch adds its own). A coding with q=0 is "not
// acceptable" (RFC 9110 §12.5.3): it is never used, and a client accepting only identity gets identity.

/** Accept-Encoding (undefined: no header) → whether the asset may come back gzipped. */
const CASES: [string | undefined, boolean][] = [
  [undefined, false],
  ['', false],
  ['identity', false],
  ['gzip', true],
  ['gzip, deflate, br', true],
  ['GZIP', true],
  ['x-gzip', true],
  ['br;q=1.0, gzip;q=0.8', true],
  ['*', true],
  ['gzip;q=0', false],
  ['gzip; q=0', false],
  ['gzip;Q=0.000', false],
  ['gzip;q=0, identity', false],
  ['identity, gzip;q=0', false],
  ['*;q=0, identity', false],
  ['*;q=0, gzip', true],
  ['gzip;q=0, *', false],
  ['deflate, br', false],
  ['gzip;q=0.5, identity;q=1', false],
  ['gzip;q=1, identity;q=0.5', true],
  ['identity;q=0, gzip;q=0.001', true],
  ['gzip;q=2', false],
  ['gzip;q=abc', false],
  ['ungzip', false],
]

function get(port: number, path: string, acceptEncoding: string | undefined): Promise<{ status: number; encoding: string | undefined; vary: string | undefined; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: acceptEncoding === undefined ? {} : { 'accept-encoding': acceptEncoding } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode!, encoding: res.headers['content-encoding'], vary: res.headers.vary, body: Buffer.concat(chunks) }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as AddressInfo
  const page = (await get(port, '/', 'identity')).body.toString()
  const assets = [
    ...[...page.matchAll(/(?:src|href)="(dashboard\/assets\/[^"]+)"/g)].map((m) => `/${m[1]}`),
    ...[...(await get(port, '/graphiql', 'identity')).body.toString().matchAll(/(?:src|href)="([^"]*graphiql\.[^"]+\.js)"/g)].map((m) => new URL(m[1]!, `http://x/graphiql`).pathname),
  ]
  t.ok(assets.some((a) => a.includes('echarts')) && assets.some((a) => a.includes('graphiql')), `the dashboard's and GraphiQL's assets: ${assets.join(' ')}`)

  for (const path of assets) {
    const plain = await get(port, path, 'identity')
    t.equal(plain.status, 200, path)
    t.equal(plain.encoding, undefined, `${path}: identity`)
    for (const [header, gzipped] of CASES) {
      const res = await get(port, path, header)
      const label = `${path}, Accept-Encoding ${header === undefined ? '(none)' : JSON.stringify(header)}`
      t.equal(res.status, 200, label)
      t.equal(res.vary, 'accept-encoding', `${label}: varies by Accept-Encoding`)
      if (plain.body.length <= 1024) {
        t.equal(res.encoding, undefined, `${label}: small assets are never compressed`)
        continue
      }
      t.equal(res.encoding, gzipped ? 'gzip' : undefined, `${label}: ${gzipped ? 'gzip' : 'identity'}`)
      t.ok((res.encoding === 'gzip' ? gunzipSync(res.body) : res.body).equals(plain.body), `${label}: the same bytes`)
    }
  }
})
