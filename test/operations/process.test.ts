import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const TSX = join(ROOT, 'node_modules/.bin/tsx')

interface Running {
  child: ChildProcess
  stderr: () => string
  stdout: () => string
  exit: Promise<number | null>
  port: Promise<number>
}

function start(env: Record<string, string>): Running {
  const child = spawn(TSX, ['src/server.ts'], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', LOG_LEVEL: 'info', TOKENLEDGER_ADMIN_TOKEN: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  const port = new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(out)
      if (m) resolve(Number(m[1]))
    })
    child.on('exit', () => reject(new Error(`exited before listening: ${err}`)))
  })
  port.catch(() => {})
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()))
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)))
  return { child, stderr: () => err, stdout: () => out, exit, port }
}

t.test('embedded PGlite: admin token printed once, one process per DATA_DIR, graceful SIGTERM', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tokenledger-proc-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const env = { DATA_DIR: join(dir, 'data') }

  const first = start(env)
  t.teardown(() => first.child.kill('SIGKILL'))
  const port = await first.port
  const token = /tl_admin_[A-Za-z0-9_-]{43}/.exec(first.stderr())?.[0]
  t.ok(token, 'the generated admin token is printed to stderr')
  t.notMatch(first.stdout(), token!, 'and never in the structured logs')
  const me = await fetch(`http://127.0.0.1:${port}/v1/me`, { headers: { authorization: `Bearer ${token}` } })
  t.equal(me.status, 200, 'the printed token works')
  await new Promise((r) => setTimeout(r, 200))
  const lines = first.stdout().split('\n').filter((l) => l.includes('"/v1/me"'))
  t.equal(lines.length, 1, 'one access-log line per request')
  t.match(JSON.parse(lines[0]!), { msg: 'request', method: 'GET', url: '/v1/me', statusCode: 200, reqId: String })
  t.notMatch(lines[0]!, token!, 'without the bearer token')

  const second = start(env)
  const code = await second.exit
  t.not(code, 0, 'a second process on the same DATA_DIR exits')
  t.match(second.stderr(), /in use by process/, 'with a clear message')

  first.child.kill('SIGTERM')
  t.equal(await first.exit, 0, 'SIGTERM drains and exits 0')
  t.match(first.stdout(), /draining and shutting down/)

  const again = start(env)
  t.teardown(() => again.child.kill('SIGKILL'))
  const port2 = await again.port
  t.notMatch(again.stderr(), /tl_admin_/, 'a restart does not print a new token')
  const still = await fetch(`http://127.0.0.1:${port2}/v1/me`, { headers: { authorization: `Bearer ${token}` } })
  t.equal(still.status, 200, 'the stored token still works after a restart')
  again.child.kill('SIGTERM')
  t.equal(await again.exit, 0)
})
