import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { runCli } from './run-cli.js'

// A 2xx answer that is not JSON (a proxy's sign-in page, another service at the URL) was reported as the
// JSON parser's complaint: "tokenledger: Unexpected token '<', "<!doctype "... is not valid JSON".

t.test('a 2xx that is not JSON names the server and what it answered', async (t) => {
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
    res.end('<!doctype html><title>Sign in</title>')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const runs = [
    ['tenants create', await runCli(['tenants', 'create', 'acme', '--url', url, '--admin-token', 'admin-token'])],
    ['sync', await runCli(['sync', 'conn_1', '--url', url, '--key', 'tl_key'])],
  ] as const
  for (const [what, run] of runs) {
    t.equal(run.code, 1, what)
    t.match(run.stderr, new RegExp(`^tokenledger: ${url.replace(/[.]/g, '\\.')} answered (POST|GET) /v1/\\S+ with 200 \\(text/html; charset=utf-8\\) that is not JSON: is it a tokenledger server\\?\\n$`), what)
    t.notMatch(run.stderr, /Unexpected token|valid JSON/, `${what}: not the parser's text`)
  }
})
