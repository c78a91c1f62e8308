import { writeFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { runCli as cli } from './run-cli.js'

/**
 * A server — or a proxy, gateway or another service at a mistyped TOKENLEDGER_URL — that echoes the
 * Authorization header in its answer. The CLI prints the server's answer on its one line, and that line
 * lands in terminals, CI logs and tickets: the token sent must never be on it, in any form it was echoed.
 */
const SECRET = 'tl_admin_s3cretValue/That+Must=NotBePrinted'

async function echoServer(answer: (auth: string, req: IncomingMessage, res: ServerResponse) => void) {
  const server = createServer((req, res) => {
    req.resume()
    answer(req.headers.authorization ?? '', req, res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

const token = (auth: string) => auth.replace(/^Bearer /, '')

const echoes: [string, (auth: string, req: IncomingMessage, res: ServerResponse) => void][] = [
  ['a text/plain 401 naming the header', (auth, _req, res) => res.writeHead(401, { 'content-type': 'text/plain' }).end(`denied for ${auth}`)],
  ['a problem+json 403 with the token in detail', (auth, _req, res) =>
    res.writeHead(403, { 'content-type': 'application/problem+json' }).end(JSON.stringify({ title: 'Forbidden', detail: `token ${token(auth)} refused` }))],
  ['a problem+json 400 with the token in its first error', (auth, _req, res) =>
    res.writeHead(400, { 'content-type': 'application/problem+json' })
      .end(JSON.stringify({ title: 'Bad', detail: 'x', errors: [{ path: 'headers.authorization', message: `not ${token(auth)}` }] }))],
  ['a text body JSON-escaped (`/` as `\\/`)', (auth, _req, res) =>
    res.writeHead(502, { 'content-type': 'text/plain' }).end(JSON.stringify({ h: token(auth) }).replaceAll('/', '\\/'))],
  ['a text body percent-encoded', (auth, _req, res) => res.writeHead(401, { 'content-type': 'text/html' }).end(`login?next=${encodeURIComponent(token(auth))}`)],
  // The CLI cuts a text body to 200 characters: a cut through the token kept its first characters.
  ['a long text body with the token across the cut', (auth, _req, res) =>
    res.writeHead(401, { 'content-type': 'text/plain' }).end(`${'x'.repeat(200 - 20)}${token(auth)}`)],
  ['a 2xx that is not JSON, its content type naming the token', (auth, _req, res) =>
    res.writeHead(201, { 'content-type': `text/html; t=${token(auth)}` }).end('<h1>hi</h1>')],
]

t.test('an answer that echoes the token is reported without it', async (t) => {
  for (const [what, answer] of echoes) {
    const url = await echoServer(answer)
    const run = await cli(['tenants', 'create', 'acme', '--url', url], { TOKENLEDGER_ADMIN_TOKEN: SECRET })
    t.equal(run.code, 1, `${what}: exit code 1`)
    t.match(run.stderr, /^tokenledger: .+\n$/, `${what}: one line`)
    t.notMatch(run.stderr, 's3cretValue', `${what}: the token is not printed (${run.stderr.trim()})`)
    t.notMatch(run.stderr, 'tl_admin_s3c', `${what}: nor its first characters`)
  }
})

t.test('the answer is still shown, the token replaced', async (t) => {
  const url = await echoServer(echoes[0]![1])
  const run = await cli(['keys', 'create', 'acme', '--scopes', 'read', '--url', url, '--admin-token', SECRET])
  t.equal(run.code, 1)
  t.equal(run.stderr, 'tokenledger: HTTP 401: denied for Bearer [token]\n')
})

t.test('a tenant key echoed by import and sync is not printed either', async (t) => {
  const key = 'tl_key_an0therS3cretThatMustNotShow'
  const url = await echoServer(echoes[1]![1])
  const sync = await cli(['sync', 'conn_1', '--url', url], { TOKENLEDGER_KEY: key })
  t.equal(sync.code, 1)
  t.notMatch(sync.stderr, 'an0therS3cret', sync.stderr)
  const file = `${t.testdir()}/usage.csv`
  writeFileSync(file, 'start_time,end_time,model,input_tokens\n')
  const imported = await cli(['import', file, '--url', url, '--key', key])
  t.equal(imported.code, 1)
  t.notMatch(imported.stderr, 'an0therS3cret', imported.stderr)
})
