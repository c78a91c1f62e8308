import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { runCli } from './run-cli.js'

// A server that takes the request and never answers (a frozen instance, a proxy whose upstream is gone)
// held every command for undici's five-minute header timeout, and then said "cannot reach" a server it
// had reached. Commands that send no file now give up after TOKENLEDGER_TIMEOUT seconds and say so.

const TIMEOUT_S = 0.5
/** Far past the timeout, far below undici's 300 s: a run still going then is hung. */
const HUNG_MS = 15_000

async function stall(answer: (res: ServerResponse) => void) {
  const held: ServerResponse[] = []
  const server = createServer((req, res) => {
    req.resume()
    held.push(res)
    answer(res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => {
      for (const res of held) res.destroy()
      server.close(() => resolve())
    }),
  }
}

async function timed(argv: string[], env: Record<string, string>) {
  let timer: NodeJS.Timeout | undefined
  const hung = new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), HUNG_MS)))
  const started = Date.now()
  const run = await Promise.race([runCli(argv, env), hung])
  clearTimeout(timer)
  return { run, ms: Date.now() - started }
}

const answers: [string, (res: ServerResponse) => void][] = [
  ['no answer at all', () => {}],
  ['headers, then a body that never ends', (res) => res.writeHead(200, { 'content-type': 'application/json' }).write('{"id":')],
]

for (const [what, answer] of answers) {
  t.test(`a server that hangs (${what}): each command exits 1 after TOKENLEDGER_TIMEOUT, saying so`, async (t) => {
    const server = await stall(answer)
    t.teardown(server.close)
    const file = join(tmpdir(), `tl-hung-${process.pid}.csv`)
    await writeFile(file, 'start_time,end_time,model,input_tokens\n')
    const env = { TOKENLEDGER_URL: server.url, TOKENLEDGER_TIMEOUT: String(TIMEOUT_S) }
    const commands: [string, string[], string][] = [
      ['tenants create', ['tenants', 'create', 'acme', '--admin-token', 'admin-token'], 'POST /v1/tenants'],
      ['keys create', ['keys', 'create', 'acme', '--scopes', 'read', '--admin-token', 'admin-token'], 'POST /v1/tenants/acme/api-keys'],
      ['sync', ['sync', 'conn_1', '--key', 'tl_key_x'], 'POST /v1/connections/conn_1/sync'],
      ['import', ['import', file, '--key', 'tl_key_x'], 'GET /v1/me'],
    ]
    for (const [name, argv, request] of commands) {
      const { run, ms } = await timed(argv, env)
      if (run === 'hung') {
        t.fail(`${name}: still waiting after ${HUNG_MS} ms`)
        continue
      }
      t.equal(run.code, 1, `${name}: exit code 1`)
      t.equal(run.stderr, `tokenledger: ${server.url} did not answer ${request} within ${TIMEOUT_S} s (TOKENLEDGER_TIMEOUT)\n`, `${name}: one line naming the wait`)
      t.equal(run.stdout, '', `${name}: nothing on stdout`)
      t.ok(ms >= TIMEOUT_S * 1000 - 50 && ms < 10_000, `${name}: gave up after the timeout (${ms} ms)`)
    }
  })
}

t.test('TOKENLEDGER_TIMEOUT that is not a positive number of seconds is a usage error', async (t) => {
  for (const value of ['0', '-1', 'soon']) {
    const run = await runCli(['tenants', 'create', 'acme', '--admin-token', 'admin-token'], { TOKENLEDGER_TIMEOUT: value })
    t.equal(run.code, 2, value)
    t.match(run.stderr, /^tokenledger: invalid environment: TOKENLEDGER_TIMEOUT: .+\n$/, value)
  }
})
