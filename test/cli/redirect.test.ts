import { writeFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { runCli as cli } from './run-cli.js'

/**
 * A URL that answers with a redirect — a proxy sending http to https, a host that moved — with a real
 * server behind it. fetch followed it: to another origin it drops the Authorization header (as it should),
 * so the server behind answered 401 and the CLI said "a valid bearer token is required" of a token that is
 * valid; a 301/302 also turned the POST into a GET. The CLI now follows no redirect and says where it
 * pointed, so the operator fixes the URL, not the key.
 */
const TOKEN = 'tl_admin_0123456789abcdefghij'

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void) {
  const server = createServer((req, res) => {
    req.resume()
    req.on('end', () => handler(req, res))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

/** Answers as tokenledger does: 401 without the token, else the tenant, the identity or the import counts. */
const seen: string[] = []
const target = await listen((req, res) => {
  seen.push(`${req.method} ${req.url} ${req.headers.authorization ? 'with' : 'without'} token`)
  const json = (status: number, body: unknown) =>
    res.writeHead(status, { 'content-type': status >= 400 ? 'application/problem+json' : 'application/json' }).end(JSON.stringify(body))
  if (req.headers.authorization !== `Bearer ${TOKEN}`)
    return json(401, { type: 'about:blank', title: 'Unauthorized', status: 401, detail: 'a valid bearer token is required' })
  if (req.url === '/v1/tenants' && req.method === 'POST') return json(201, { id: 'acme', name: 'acme' })
  if (req.url === '/v1/me') return json(200, { kind: 'admin', tenant_id: null, key_id: null, scopes: ['admin'] })
  if (req.url?.startsWith('/v1/usage/buckets') && req.method === 'POST') return json(200, { received: 0, created: 0, replaced: 0, unchanged: 0 })
  return json(404, { title: 'Not found', detail: `no route for ${req.method} ${req.url}` })
})

for (const status of [301, 302, 307, 308]) {
  t.test(`a ${status} to another origin is reported as a redirect, not as a bad token`, async (t) => {
    seen.length = 0
    const url = await listen((req, res) => res.writeHead(status, { location: `${target}${req.url}?sig=x` }).end())
    const run = await cli(['tenants', 'create', 'acme', '--url', url, '--admin-token', TOKEN])
    t.equal(run.code, 1)
    t.equal(
      run.stderr,
      `tokenledger: ${url} answered POST /v1/tenants with a redirect (${status}) to ${target}/v1/tenants: set --url (TOKENLEDGER_URL) to the server's address\n`,
    )
    t.notMatch(run.stderr, 'Unauthorized')
    t.same(seen, [], 'nothing reached the server behind it')
  })
}

t.test('import stops at the first request that is redirected', async (t) => {
  seen.length = 0
  const url = await listen((req, res) => res.writeHead(307, { location: `${target}${req.url}` }).end())
  const file = `${t.testdir()}/usage.csv`
  writeFileSync(file, 'start_time,end_time,model,input_tokens\n')
  const run = await cli(['import', file, '--url', url, '--key', TOKEN])
  t.equal(run.code, 1)
  t.match(run.stderr, /^tokenledger: http:\/\/127\.0\.0\.1:\d+ answered GET \/v1\/me with a redirect \(307\) to http:\/\/127\.0\.0\.1:\d+\/v1\/me: set --url/)
  t.same(seen, [])
})

t.test('the server itself is still answered as before', async (t) => {
  const run = await cli(['tenants', 'create', 'acme', '--url', target, '--admin-token', TOKEN])
  t.equal(run.code, 0, run.stderr)
})
