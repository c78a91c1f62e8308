import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { runCli } from './run-cli.js'

// A 2xx whose JSON is not what tokenledger answers (another service at the URL, a proxy's empty 200) was
// taken as success: `tenants create` printed "created tenant undefined (undefined)" and exited 0, `import`
// printed nothing or the stranger's fields and exited 0, `keys create` failed with "Cannot read properties
// of undefined (reading 'join')". Each now exits 1 with one line naming the server and the request.

const ME = JSON.stringify({ kind: 'tenant', tenant_id: 'acme', key_id: 'key_1', scopes: ['ingest'] })
const BODIES: [string, string][] = [
  ['an empty body', ''],
  ['{}', '{}'],
  ['another service\'s JSON', '{"ok":true,"id":7}'],
  ['null', 'null'],
  ['an array', '[]'],
]

for (const [what, body] of BODIES) {
  t.test(`a 2xx with ${what} is a failure, not a success`, async (t) => {
    // /v1/me answers as tokenledger does, so import reaches its upload; every other request gets `body`.
    const server = createServer((req, res) => {
      req.resume()
      req.on('end', () => {
        res.writeHead(req.url === '/v1/me' ? 200 : 201, { 'content-type': 'application/json' })
        res.end(req.url === '/v1/me' ? ME : body)
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const file = join(tmpdir(), `tl-wrong-answer-${process.pid}.csv`)
    await writeFile(file, 'start_time,end_time,model,input_tokens\n')
    const runs: [string, string[], string][] = [
      ['tenants create', ['tenants', 'create', 'acme', '--url', url, '--admin-token', 'admin-token'], 'POST /v1/tenants'],
      ['keys create', ['keys', 'create', 'acme', '--scopes', 'read', '--url', url, '--admin-token', 'admin-token'], 'POST /v1/tenants/acme/api-keys'],
      ['import', ['import', file, '--url', url, '--key', 'tl_key_x'], 'POST /v1/usage/buckets'],
    ]
    for (const [name, argv, request] of runs) {
      const run = await runCli(argv)
      t.equal(run.code, 1, `${name}: exit code 1`)
      t.equal(run.stdout, '', `${name}: nothing on stdout`)
      const last = run.stderr.trimEnd().split('\n').at(-1)
      t.match(last, new RegExp(`^tokenledger: ${url.replace(/[.]/g, '\\.')} answered ${request} with 201 but not as tokenledger does \\(.+\\): is it a tokenledger server\\?$`), `${name}: says what answered`)
      t.notMatch(run.stderr, /Cannot read properties|undefined/, `${name}: no JavaScript error text`)
    }
  })
}
