import t from 'tap'
import { engines, waitFor } from '../helpers.js'
import { startStub } from './support/harness.js'
import { call, connectionOnServer, freshPostgres, startServer } from './support/server-process.js'

/**
 * Two server processes on one PostgreSQL (the default five-minute lease). While A's run is alive, B must
 * not take it over however often it asks; once A is SIGKILLed mid-run, its liveness lock is gone with its
 * session, and B frees the lease and runs the connection at once. Before, B answered 409 for up to
 * SYNC_LEASE_MS after the kill (five minutes), and the connection showed `running` meanwhile.
 */
interface Run {
  status: string
  error: string | null
  pages: number
}

void t.test('PostgreSQL: a live instance keeps its run; a SIGKILLed one\'s run is taken over by another instance at once', { skip: !engines().includes('postgres') && 'PostgreSQL only' }, async (t) => {
  const stub = await startStub(t, 60)
  const { url } = await freshPostgres(t)
  const { server: a, base: A, headers, id } = await connectionOnServer(t, stub, { DATABASE_URL: url })
  const b = startServer(t, { DATABASE_URL: url })
  const B = await b.url

  // A's fourth page hangs until A is killed (not for a fixed 8 s, which B's requests on a loaded machine
  // could outlast): its run is alive, holding the lease, with three pages recorded.
  const answer = stub.hold(3)
  t.equal((await call(A, 'POST', `/v1/connections/${id}/sync`, headers)).status, 202)
  await waitFor('request 4 to reach the stub', () => stub.requests.length >= 4, { everyMs: 10 })
  for (let i = 0; i < 3; i++) {
    t.equal((await call(B, 'POST', `/v1/connections/${id}/sync`, headers)).status, 409, `B does not take a live instance's run (try ${String(i + 1)})`)
    await new Promise((r) => setTimeout(r, 100))
  }
  t.equal(((await call(B, 'GET', `/v1/connections/${id}`, headers)).json.last_run as Run).status, 'running', 'and shows it running')

  a.child.kill('SIGKILL')
  t.equal(await a.exit, null, 'A killed, no exit code')
  answer()
  // PostgreSQL ends A's session as soon as it reads the closed socket: a few milliseconds, polled for at
  // most 60 s (far below the five-minute lease; 10 s left a loaded machine little room).
  let status = 0
  await waitFor('B to run the connection', async () => (status = (await call(B, 'POST', `/v1/connections/${id}/sync`, headers)).status) === 202, { everyMs: 100 }).catch(() => undefined)
  t.equal(status, 202, 'B runs the connection at once, not after the five-minute lease')
  let state = (await call(B, 'GET', `/v1/connections/${id}`, headers)).json
  for (let i = 0; i < 3000 && (state.last_run as Run).status === 'running'; i++) {
    await new Promise((r) => setTimeout(r, 25))
    state = (await call(B, 'GET', `/v1/connections/${id}`, headers)).json
  }
  t.equal((state.last_run as Run).status, 'succeeded', 'B\'s run completes')
  t.match(state.previous_run, { status: 'failed', pages: 3, error: /^interrupted: the server stopped mid-run without recording an outcome/ }, 'A\'s run: failed, interrupted, with the three pages it recorded')
  const metrics = await (await fetch(`${B}/metrics`)).text()
  t.match(metrics, /^tokenledger_sync_failures_total\{provider="openai",reason="interrupted"\} 1$/m, 'B counts A\'s run as failed, interrupted (A never could)')
  const usage = await call(B, 'POST', '/graphql', headers, {
    query: `{ usage(from: "${new Date(stub.opts.dataStart - 86_400_000).toISOString()}", to: "${new Date(stub.opts.dataEnd + 86_400_000).toISOString()}", window: TOTAL) { totals { inputTokens } } }`,
  })
  t.equal(String((usage.json as unknown as { data: { usage: { totals: { inputTokens: unknown } } } }).data.usage.totals.inputTokens), String(stub.expected().completions.input), 'totals exact: nothing lost, nothing twice')
  b.child.kill('SIGTERM')
  t.equal(await b.exit, 0)
})
