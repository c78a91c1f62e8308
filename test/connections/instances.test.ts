import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { createPgliteDb } from '../../src/db/client.js'
import { eachEngine, engines, freshDb, waitFor } from '../helpers.js'
import { buildWith, createConnection, ledgerTotals, OPENAI_KEY, startStub, syncAndWait, tenant, waitForRun } from './support/harness.js'
import { call, freshPostgres, startServer, tenantOver } from './support/server-process.js'

const HOUR = 3_600_000

async function pollRun(base: string, headers: Record<string, string>, id: string) {
  let run: { status: string } | null = null
  const s = await waitFor('the run to finish', async () => {
    const s = await call(base, 'GET', `/v1/connections/${id}`, headers)
    run = s.json.last_run as { status: string } | null
    return run && run.status !== 'running' ? s : undefined
  }, { timeoutMs: 75_000, everyMs: 25, state: () => `last run ${JSON.stringify(run)}` })
  return s.json as unknown as { last_run: { status: string; error: string | null }; synced_until: Record<string, string> }
}

void t.test('two server processes on one PostgreSQL never pull one connection at once', { skip: !engines().includes('postgres') && 'PostgreSQL only (PGlite: one process per data directory; see the in-process test below)' }, async (t) => {
  const stub = await startStub(t, 30)
  stub.delayMs = 20
  const { url: dbUrl, db } = await freshPostgres(t)
  const env = { DATABASE_URL: dbUrl, TOKENLEDGER_SYNC: 'on', SYNC_TICK_MS: '30' }
  const [a, b] = [startServer(t, env), startServer(t, env)]
  const [A, B] = await Promise.all([a.url, b.url])
  const { tenantId, headers } = await tenantOver(A)
  // Both schedulers see it due at once (next_run_at defaults to now).
  const created = await call(B, 'POST', '/v1/connections', headers, { name: 'o', provider: 'openai', admin_key: OPENAI_KEY, base_url: stub.url, start_date: new Date(stub.opts.dataStart).toISOString(), endpoints: ['completions', 'embeddings'], interval_minutes: 60 })
  t.equal(created.status, 201)
  const done = await pollRun(A, headers, created.json.id)
  t.equal(done.last_run.status, 'succeeded', `the scheduled run succeeded (${done.last_run.error ?? ''})`)
  t.equal(stub.maxInFlight, 1, 'never two provider requests at once: one instance pulled')

  // Both asked to run it now at the same moment: one starts, the other answers 409.
  const answers = await Promise.all([A, B].map((s) => call(s, 'POST', `/v1/connections/${created.json.id}/sync`, headers)))
  t.same(answers.map((r) => r.status).sort(), [202, 409], 'one 202, one 409')
  await pollRun(B, headers, created.json.id)
  t.equal(stub.maxInFlight, 1)
  const got = await ledgerTotals(db, tenantId)
  t.equal(got.buckets.find((x) => x.usage_type === 'completions')?.input, String(stub.expected().completions.input), 'totals exact')
  a.child.kill('SIGTERM')
  b.child.kill('SIGTERM')
  t.same(await Promise.all([a.exit, b.exit]), [0, 0], 'both exit cleanly')
})

void t.test('two app instances sharing one database never pull one connection at once', (t) =>
  eachEngine(t, async (t, engine) => {
    const stub = await startStub(t, 30)
    stub.delayMs = 10
    const db = await freshDb(t, engine)
    const config = { TOKENLEDGER_SYNC: 'on', SYNC_TICK_MS: '20' }
    const one = await buildWith(t, engine, { db, config })
    const two = await buildWith(t, engine, { db, config })
    const { tenantId, headers } = await tenant(one)
    const c = await createConnection(two, headers, { name: 'o', provider: 'openai', admin_key: OPENAI_KEY, base_url: stub.url, start_date: new Date(stub.opts.dataStart).toISOString(), endpoints: ['completions'] })
    const state = await waitForRun(one, headers, c.id)
    t.equal(state.last_run?.status, 'succeeded')
    const answers = await Promise.all([one, two].map((app) => app.inject({ method: 'POST', url: `/v1/connections/${c.id}/sync`, headers })))
    t.same(answers.map((r) => r.statusCode).sort(), [202, 409], 'one 202, one 409')
    await waitForRun(two, headers, c.id)
    t.equal(stub.maxInFlight, 1, 'one run at a time')
    t.equal((await ledgerTotals(db, tenantId)).buckets[0]?.input, String(stub.expected().completions.input))
  }),
)

void t.test('SIGTERM mid-run: the run stops between pages, nothing half-stored, and the next run resumes', (t) =>
  eachEngine(t, async (t, engine) => {
    const stub = await startStub(t, 60)
    stub.delayMs = 150
    let env: Record<string, string>
    let openDb: () => Promise<import('../../src/db/client.js').DbClient>
    if (engine === 'postgres') {
      const pg = await freshPostgres(t)
      env = { DATABASE_URL: pg.url }
      openDb = async () => pg.db
    } else {
      const dir = await mkdtemp(join(tmpdir(), 'tl-conn-'))
      t.teardown(() => rm(dir, { recursive: true, force: true }))
      env = { DATA_DIR: join(dir, 'data') }
      openDb = async () => {
        const db = await createPgliteDb({ dataDir: join(dir, 'data') })
        t.teardown(() => db.close())
        return db
      }
    }
    const server = startServer(t, env)
    const base = await server.url
    const { tenantId, headers } = await tenantOver(base)
    const created = await call(base, 'POST', '/v1/connections', headers, { name: 'o', provider: 'openai', admin_key: OPENAI_KEY, base_url: stub.url, start_date: new Date(stub.opts.dataStart).toISOString(), endpoints: ['completions'] })
    // The fourth page is held until the server has exited: the run is mid-window when SIGTERM comes
    // however slowly a loaded machine handles the signal (it could finish all twelve pages first).
    const answer = stub.hold(3)
    t.equal((await call(base, 'POST', `/v1/connections/${created.json.id}/sync`, headers)).status, 202)
    await waitFor('request 4 to reach the stub', () => stub.requests.length >= 4, { everyMs: 10 })
    server.child.kill('SIGTERM')
    t.equal(await server.exit, 0, 'the server drains and exits 0')
    answer()

    const db = await openDb()
    const app = await buildWith(t, engine, { db })
    const stopped = await waitForRun(app, headers, created.json.id)
    t.equal(stopped.last_run?.status, 'failed')
    t.match(stopped.last_run?.error, /^interrupted: the server shut down mid-run/, 'last_run says it was interrupted')
    const [lease] = await db.query<{ lease_owner: string | null }>('select lease_owner from connections')
    t.equal(lease?.lease_owner, null, 'the lease was released')
    const until = Date.parse(stopped.synced_until.completions!)
    t.ok(until < stub.opts.dataEnd, 'stopped before the end')
    let input = 0n
    for (let h = stub.opts.dataStart; h < until; h += HOUR) for (const r of stub.openaiResults('completions', h)) input += BigInt(r.input_tokens as number)
    t.equal((await ledgerTotals(db, tenantId)).buckets[0]?.input, String(input), 'exactly the pages before synced_until are stored')

    stub.delayMs = 0
    const resumed = await syncAndWait(app, headers, created.json.id)
    t.equal(resumed.last_run?.status, 'succeeded', 'the next run completes')
    t.equal((await ledgerTotals(db, tenantId)).buckets[0]?.input, String(stub.expected().completions.input), 'totals exact')
  }),
)
