import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { waitFor } from '../helpers.js'
import { DIST_SERVER, ensureBuilt, ROOT } from '../setup/compiled.js'
import { track } from '../setup/children.js'

const ADMIN = 'compiled-admin-token-0123456789'
// A possible tsc build plus a fresh PGlite initdb in WASM: on a busy 2-core CI machine, more than tap's default.
t.setTimeout(480_000)

t.test('package.json: `npm ci` builds (prepare) and `npm start` runs the compiled server', async (t) => {
  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>
    dependencies: Record<string, string>
  }
  t.equal(pkg.scripts.prepare, 'npm run build')
  t.equal(pkg.scripts.build, 'tsc -p tsconfig.build.json')
  t.equal(pkg.scripts.start, 'node dist/server.js')
  t.notOk(pkg.dependencies.tsx, 'tsx is not a runtime dependency')
})

t.test('node dist/server.js: migrates from migrations/, serves GraphQL from schema/, drains on SIGTERM', async (t) => {
  await ensureBuilt()
  const dir = await mkdtemp(join(tmpdir(), 'tokenledger-dist-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  // Started from another working directory: every file it reads must resolve from dist/, not the cwd.
  const child = track(spawn(process.execPath, [DIST_SERVER], {
    cwd: dir,
    env: { ...process.env, PORT: '0', LOG_LEVEL: 'info', DATA_DIR: join(dir, 'data'), TOKENLEDGER_ADMIN_TOKEN: ADMIN, DATABASE_URL: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  }))
  t.teardown(() => child.kill('SIGKILL'))
  let out = ''
  let err = ''
  child.stderr.on('data', (d: Buffer) => (err += d.toString()))
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)))
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(out)
      if (m) resolve(Number(m[1]))
    })
    void exit.then((code) => reject(new Error(`exited ${code} before listening: ${err}`)))
  })
  const base = `http://127.0.0.1:${port}`
  const auth = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }

  // Polled: /readyz gives `select 1` one second, and start-up work on PGlite can hold it longer than
  // that on a loaded machine. Migrations that were never found would keep it 503 for the whole wait.
  let readyzRequests = 0
  let ready = 0
  const probe = async () => {
    readyzRequests++
    ready = (await fetch(`${base}/readyz`)).status
    return ready === 200
  }
  await waitFor('/readyz to answer 200', probe, { timeoutMs: 30_000, everyMs: 250 }).catch(() => undefined)
  t.equal(ready, 200, 'ready: the migrations were found and applied')
  const tenant = await fetch(`${base}/v1/tenants`, { method: 'POST', headers: auth, body: JSON.stringify({ id: 'acme', name: 'Acme' }) })
  t.equal(tenant.status, 201)
  const gql = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { ...auth, 'x-tenant-id': 'acme' },
    body: JSON.stringify({ query: '{ __schema { queryType { name } } }' }),
  })
  const body = (await gql.json()) as { data?: unknown; errors?: unknown }
  t.equal(body.errors, undefined, 'the SDL was read from schema/')
  t.same(body.data, { __schema: { queryType: { name: 'Query' } } })
  t.equal((await fetch(`${base}/graphiql`)).status, 200, 'GraphiQL assets resolve from node_modules')
  t.equal((await fetch(`${base}/docs/json`)).status, 200)
  t.equal((await fetch(`${base}/`)).status, 200, 'the dashboard and its assets are served from dist/')

  child.kill('SIGTERM')
  t.equal(await exit, 0, 'SIGTERM drains and exits 0')
  // Fastify 5's deprecations (top-level maxParamLength, disableRequestLogging) printed on every start.
  t.notMatch(err, /FSTDEP|DeprecationWarning|FastifyWarning/, 'no deprecation warnings on start')
  const requestLines = out.split('\n').filter((l) => l.includes('"url":"/readyz"'))
  t.equal(requestLines.length, readyzRequests, 'one access line per request (Fastify\'s own request logging stays off)')
})
