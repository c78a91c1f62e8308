import type { AddressInfo } from 'node:net'
import { createServer } from 'node:net'
import t from 'tap'
import { runCli as cli } from './run-cli.js'

const SECRET = 'tl_key_s3cretValueThatMustNotBePrinted'

/** A port with nothing listening on it: bound, then closed. */
async function closedPort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  const { port } = s.address() as AddressInfo
  await new Promise<void>((resolve) => s.close(() => resolve()))
  return port
}

t.test('a token that cannot be sent is a usage error that does not print it', async (t) => {
  const url = `http://127.0.0.1:${await closedPort()}`
  const cases: [string, string[], Record<string, string>, RegExp][] = [
    ['--key of two lines', ['import', 'x.csv', '--url', url, '--key', `${SECRET}\r\n${SECRET}`], {}, /^tokenledger: --key contains whitespace or control characters/],
    ['--admin-token with a line break', ['tenants', 'create', 'acme', '--url', url, '--admin-token', `${SECRET}\nX`], {}, /^tokenledger: --admin-token contains/],
    ['TOKENLEDGER_ADMIN_TOKEN with a CR inside', ['keys', 'create', 'acme', '--scopes', 'read', '--url', url], { TOKENLEDGER_ADMIN_TOKEN: `${SECRET}\rX` }, /^tokenledger: TOKENLEDGER_ADMIN_TOKEN contains/],
    ['TOKENLEDGER_KEY with a space inside', ['sync', 'conn_1', '--url', url], { TOKENLEDGER_KEY: `${SECRET} X` }, /^tokenledger: TOKENLEDGER_KEY contains/],
  ]
  for (const [what, argv, env, message] of cases) {
    const run = await cli(argv, env)
    t.equal(run.code, 2, `${what}: exit code 2`)
    t.match(run.stderr, message, what)
    t.notMatch(run.stderr, 's3cretValue', `${what}: the secret is not printed`)
    t.equal(run.stderr.split('\n').length, 2, `${what}: one line`)
  }
})

t.test('a server URL with a user name or password is refused without printing it', async (t) => {
  const flag = await cli(['tenants', 'create', 'acme', '--url', 'http://ops:hunter2pass@127.0.0.1:1', '--admin-token', SECRET])
  t.equal(flag.code, 2)
  t.equal(flag.stderr, 'tokenledger: --url must not carry a user name or password\n')
  const env = await cli(['tenants', 'create', 'acme', '--admin-token', SECRET], { TOKENLEDGER_URL: 'http://ops:hunter2pass@127.0.0.1:1' })
  t.equal(env.code, 2)
  t.match(env.stderr, /TOKENLEDGER_URL: must not carry a user name or password/)
  t.notMatch(flag.stderr + env.stderr, 'hunter2pass')
})

t.test('a sendable token still reaches the network (the check refuses nothing the server accepts)', async (t) => {
  const url = `http://127.0.0.1:${await closedPort()}`
  // A trailing line break (a key file read whole) is stripped, as fetch always did.
  for (const token of [`${SECRET}-é`, `${SECRET}\r\n`, ` ${SECRET}\t`]) {
    const run = await cli(['tenants', 'create', 'acme', '--url', url, '--admin-token', token])
    t.equal(run.code, 1, JSON.stringify(token))
    t.match(run.stderr, /^tokenledger: cannot reach http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED\n$/)
  }
})
