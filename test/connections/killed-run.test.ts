import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { engines, waitFor } from '../helpers.js'
import { startStub } from './support/harness.js'
import { call, connectionOnServer, freshPostgres, startServer } from './support/server-process.js'
import type { StubProvider } from './support/stub-provider.js'

/**
 * A server process SIGKILLed between two pages of a run records no outcome: its lease and a `running`
 * last_run stay in the database. What a restarted server then says about that run must be true: it is
 * not running, it failed, and pages and rows are those the dead run recorded. Before, on embedded PGlite
 * (one process per DATA_DIR, so the run was certainly dead) the connection showed `running` and
 * `POST …/sync` answered 409 for SYNC_LEASE_MS (five minutes) after the restart.
 */
const HOUR = 3_600_000

interface LastRun {
  status: string
  pages: number
  rows: number
  error: string | null
  finished_at: string | null
}

async function lastRun(base: string, headers: Record<string, string>, id: string) {
  const got = await call(base, 'GET', `/v1/connections/${id}`, headers)
  return got.json as unknown as { last_run: LastRun; synced_until: Record<string, string | null> }
}

async function poll(base: string, headers: Record<string, string>, id: string, until: (run: LastRun) => boolean, timeoutMs = 60_000) {
  let state: Awaited<ReturnType<typeof lastRun>> | undefined
  return waitFor('the run to reach the state awaited', async () => {
    state = await lastRun(base, headers, id)
    return until(state.last_run) ? state : undefined
  }, { timeoutMs, everyMs: 25, state: () => `last run ${JSON.stringify(state?.last_run)}` })
}

/** Starts a run, SIGKILLs the server while its fourth page is being answered, restarts it on the same database. */
async function killMidRun(t: Test, stub: StubProvider, env: Record<string, string>) {
  const { server: first, base, headers, id } = await connectionOnServer(t, stub, env)
  // The fourth request hangs until the kill: by then three pages are stored and their progress recorded.
  const answer = stub.hold(3)
  t.equal((await call(base, 'POST', `/v1/connections/${id}/sync`, headers)).status, 202)
  await waitFor('request 4 to reach the stub', () => stub.requests.length >= 4, { everyMs: 10 })
  first.child.kill('SIGKILL')
  t.equal(await first.exit, null, 'killed, no exit code')
  answer()

  const second = startServer(t, env)
  return { base: await second.url, headers, id, server: second }
}

/** Rows of the completions results in [from, to): what pages covering that span hold. */
function rowsBetween(stub: StubProvider, from: number, to: number): number {
  let n = 0
  for (let h = from; h < to; h += HOUR) n += stub.openaiResults('completions', h).length
  return n
}

void t.test('PGlite: a run whose server was SIGKILLed mid-run is failed after the restart, with what it recorded, and can run again at once', async (t) => {
  const stub = await startStub(t, 60)
  const dir = await mkdtemp(join(tmpdir(), 'tl-killed-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const { base, headers, id, server } = await killMidRun(t, stub, { DATA_DIR: join(dir, 'data') })

  const after = await lastRun(base, headers, id)
  t.equal(after.last_run.status, 'failed', 'not running: nothing runs it any more')
  t.match(after.last_run.error, /^interrupted: the server stopped mid-run without recording an outcome/, 'says it was interrupted')
  t.ok(after.last_run.finished_at, 'with an end')
  t.equal(after.last_run.pages, 3, 'the three pages it stored and recorded')
  const until = Date.parse(after.synced_until.completions!)
  t.equal(until, stub.opts.dataStart + 3 * stub.pageBuckets * HOUR, 'synced_until after the third page')
  t.equal(after.last_run.rows, rowsBetween(stub, stub.opts.dataStart, until), 'rows: those of the three pages, each once')
  const gql = await call(base, 'POST', '/graphql', headers, { query: '{ connections { lastRun { status pages rows error } } }' })
  t.same(gql.json, { data: { connections: [{ lastRun: { status: 'failed', pages: 3, rows: after.last_run.rows, error: after.last_run.error } }] } }, 'GraphQL says the same')

  const metrics = await (await fetch(`${base}/metrics`)).text()
  t.match(metrics, /^tokenledger_sync_failures_total\{provider="openai",reason="interrupted"\} 1$/m, 'the restarted server counts the killed run as failed, interrupted')
  t.match(metrics, /^tokenledger_sync_runs_total\{provider="openai",outcome="failed"\} 1$/m)
  t.equal((await call(base, 'POST', `/v1/connections/${id}/sync`, headers)).status, 202, 'a sync starts at once (no lease of a dead process to wait out)')
  const next = await poll(base, headers, id, (r) => r.status !== 'running')
  t.equal(next.last_run.status, 'succeeded', `the next run resumes and completes (${next.last_run.error ?? ''})`)
  const usage = await call(base, 'POST', '/graphql', headers, {
    query: `{ usage(from: "${new Date(stub.opts.dataStart - 24 * HOUR).toISOString()}", to: "${new Date(stub.opts.dataEnd + 24 * HOUR).toISOString()}", window: TOTAL) { totals { inputTokens } } }`,
  })
  t.equal(String((usage.json as unknown as { data: { usage: { totals: { inputTokens: unknown } } } }).data.usage.totals.inputTokens), String(stub.expected().completions.input), 'totals exact: nothing lost, nothing twice')
  // The resumed run fetched the dead run's pages again (lag_hours 48): they were stored already, so this
  // process's counter says only the rows the ledger gained from it.
  const scraped = await (await fetch(`${base}/metrics`)).text()
  t.match(scraped, new RegExp(`^tokenledger_ingested_rows_total\\{source="openai_api",outcome="created"\\} ${stub.expected().completions.rows - after.last_run.rows}$`, 'm'), 'ingested rows: the ledger gained the rest, the re-pulled pages not counted again')
  t.notMatch(scraped, /outcome="replaced"/, 'and no row was replaced')
  server.child.kill('SIGTERM')
  t.equal(await server.exit, 0)
})

void t.test('PostgreSQL: a SIGKILLed run is failed after the restart, with what it recorded, and can run again at once (its liveness lock went with it)', { skip: !engines().includes('postgres') && 'PostgreSQL only' }, async (t) => {
  const stub = await startStub(t, 60)
  const { url } = await freshPostgres(t)
  // The default lease (five minutes): before, the run showed running and sync answered 409 until it lapsed.
  const { base, headers, id, server } = await killMidRun(t, stub, { DATABASE_URL: url })
  const after = await lastRun(base, headers, id)
  t.equal(after.last_run.status, 'failed', 'not running: the restart found no session holding the dead run\'s liveness lock')
  t.match(after.last_run.error, /^interrupted: the server stopped mid-run without recording an outcome/, 'says it was interrupted')
  t.ok(after.last_run.finished_at, 'with an end')
  t.equal(after.last_run.pages, 3, 'the three pages it recorded')
  t.equal(after.last_run.rows, rowsBetween(stub, stub.opts.dataStart, Date.parse(after.synced_until.completions!)), 'and their rows')
  const metrics = await (await fetch(`${base}/metrics`)).text()
  t.match(metrics, /^tokenledger_sync_failures_total\{provider="openai",reason="interrupted"\} 1$/m, 'the restarted server counts the killed run as failed, interrupted')
  t.equal((await call(base, 'POST', `/v1/connections/${id}/sync`, headers)).status, 202, 'a sync starts at once (no lease of a dead process to wait out)')
  t.equal((await poll(base, headers, id, (r) => r.status !== 'running')).last_run.status, 'succeeded')
  server.child.kill('SIGTERM')
  t.equal(await server.exit, 0)
})
