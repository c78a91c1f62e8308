import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import type { Engine } from '../../src/db/client.js'
import { ADMIN_TOKEN, admin, bearer, build, eachEngine, freshDb, isProblem, tenantWithKey } from '../helpers.js'
import { rowCount } from '../factories/buckets.js'
import { withDatabase } from '../setup/templates.js'
import { track } from '../setup/children.js'

// A request's row problems are kept up to the thousand a response lists and counted beyond
// (ProblemList, src/errors.ts). Every problem used to be held: 3 MB of `{}` buckets made three million
// (0.9 GB of heap), a 14 MB body ended the process, and one object with 300,000 unknown fields
// overflowed the stack (a 500).

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const BOUNDED_HEAP_MB = 200

interface Problem {
  status: number
  errors: { index?: number; line?: number; path: string }[]
  error_count: number
  truncated: boolean
}

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key, tenantId } = await tenantWithKey(app, ['ingest'])

  await t.test('a bucket with 300,000 unknown fields is a 400 listing the first thousand, counting all', async (t) => {
    const bucket: Record<string, unknown> = { start_time: 1735689600, end_time: 1735693200, model: 'gpt-4o' }
    for (let i = 0; i < 300_000; i++) bucket[`f${i}`] = 0
    const res = await app.inject({ method: 'POST', url: '/v1/usage/buckets', headers: bearer(key), payload: { buckets: [bucket] } })
    t.equal(res.statusCode, 400, res.body.slice(0, 300))
    t.ok(isProblem(res))
    const body = res.json<Problem>()
    t.equal(body.error_count, 300_000)
    t.equal(body.errors.length, 1000)
    t.equal(body.truncated, true)
    t.match(body.errors[0], { index: 0, path: 'f0' })
    t.equal(await rowCount(app, tenantId), 0, 'nothing written')
  })

  await t.test('a streamed usage CSV of 200,000 bad lines: the first thousand listed, all counted', async (t) => {
    const csv = 'start_time,end_time,model,input_tokens\n' + '1735689600,1735693200,gpt-4o,x\n'.repeat(200_000)
    const res = await app.inject({ method: 'POST', url: '/v1/usage/buckets', headers: { ...bearer(key), 'content-type': 'text/csv' }, payload: csv })
    t.equal(res.statusCode, 400)
    const body = res.json<Problem>()
    t.equal(body.error_count, 200_000)
    t.equal(body.errors.length, 1000)
    t.match(body.errors.at(-1), { line: 1001, path: 'input_tokens' })
    t.equal(await rowCount(app, tenantId), 0, 'nothing written')
  })

  await t.test(`500,000 empty buckets (1.5 MB) on a server with a ${BOUNDED_HEAP_MB} MB heap: a 400, and the server lives`, async (t) => {
    const base = await startServer(t, engine)
    const auth = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }
    t.equal((await fetch(`${base}/v1/tenants`, { method: 'POST', headers: auth, body: JSON.stringify({ id: 'heap', name: 'heap' }) })).status, 201)
    const body = `{"buckets":[${'{},'.repeat(499_999)}{}]}`
    // Without the bound the process ran out of heap here (1.5 million problems) and the request failed.
    const res = await fetch(`${base}/v1/usage/buckets`, { method: 'POST', headers: { ...auth, 'x-tenant-id': 'heap' }, body })
    t.equal(res.status, 400)
    const problem = (await res.json()) as Problem
    t.equal(problem.error_count, 1_500_000, 'model, start_time and end_time of every bucket')
    t.equal(problem.errors.length, 1000)
    t.equal((await fetch(`${base}/healthz`)).status, 200)
    const listed = await fetch(`${base}/v1/tenants`, { headers: admin })
    t.equal(listed.status, 200, 'and still serves')
  })
})

/** The real server (tsx loader) with a small V8 heap, on a fresh database of `engine`; stopped at teardown. */
async function startServer(t: Test, engine: Engine): Promise<string> {
  let database: Record<string, string> = { DATA_DIR: 'memory://', DATABASE_URL: '' }
  if (engine === 'postgres') {
    const db = await freshDb(t, engine)
    const [row] = await db.query<{ name: string }>('select current_database() as name')
    database = { DATABASE_URL: withDatabase(process.env.TEST_DATABASE_URL!, row!.name) }
  }
  const child = track(spawn(process.execPath, [`--max-old-space-size=${BOUNDED_HEAP_MB}`, '--import', 'tsx', 'src/server.ts'], {
    cwd: ROOT,
    env: { ...process.env, ...database, PORT: '0', LOG_LEVEL: 'info', TOKENLEDGER_ADMIN_TOKEN: ADMIN_TOKEN, RATE_LIMIT_PER_MINUTE: 'off', UNDER_PRESSURE: 'off' },
    stdio: ['ignore', 'pipe', 'pipe'],
  }))
  let err = ''
  child.stderr.on('data', (d: Buffer) => (err += d.toString()))
  const exited = new Promise<void>((r) => child.once('exit', () => r()))
  t.teardown(async () => {
    child.kill('SIGKILL')
    await exited
  })
  const port = await new Promise<number>((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(out)
      if (m) resolve(Number(m[1]))
    })
    void exited.then(() => reject(new Error(`the server exited: ${err.slice(-2000)}`)))
  })
  return `http://127.0.0.1:${port}`
}
