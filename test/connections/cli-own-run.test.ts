import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { engines, waitFor } from '../helpers.js'
import { ensureBuilt } from '../setup/compiled.js'
import { runBuiltCli as cli } from '../cli/run-cli.js'
import { startStub } from './support/harness.js'
import { call, connectionOnServer, freshPostgres } from './support/server-process.js'

/**
 * `tokenledger sync <id>` starts a run and reports it. If that run ends and another starts (the
 * scheduler, another client's sync) before the CLI polls again, last_run is that other run: the CLI
 * waited for it and printed its outcome — here another client's failing run, so a sync that succeeded
 * exited 1 with an error it never had. The CLI talks to the server through a proxy that holds its first
 * poll until its run has ended and another client's run has started, so the race happens every time.
 */

// Two server processes and a CLI per engine: under a loaded machine (load 19, two other suites) one engine took 116 s.
t.setTimeout(600_000)
t.before(ensureBuilt)

async function readBody(req: IncomingMessage): Promise<string | undefined> {
  let body = ''
  for await (const chunk of req) body += String(chunk)
  return body === '' ? undefined : body
}

/** Forwards to `base`; `beforePoll` runs once, before the first GET is forwarded. Keeps the 202 it relayed. */
async function proxy(t: Test, base: string, beforePoll: () => Promise<void>) {
  const seen: { syncAnswer?: { last_run: { started_at: string } } } = {}
  let held: Promise<void> | undefined
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      if (req.method === 'GET') await (held ??= beforePoll())
      const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => k === 'authorization' || k === 'content-type' || k === 'accept')) as Record<string, string>
      const body = await readBody(req)
      const answer = await fetch(`${base}${req.url ?? '/'}`, { method: req.method ?? 'GET', headers, ...(body === undefined ? {} : { body }) })
      const text = await answer.text()
      if (req.method === 'POST' && answer.status === 202) seen.syncAnswer = JSON.parse(text) as typeof seen.syncAnswer
      res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' })
      res.end(text)
    })().catch((err: unknown) => {
      res.writeHead(502)
      res.end(String(err))
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise<void>((r) => server.close(() => r())))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen }
}

async function scenario(t: Test, env: Record<string, string>) {
  const stub = await startStub(t, 20)
  const { server, base, headers, id } = await connectionOnServer(t, stub, env)
  let otherStartedAt = ''
  // Another client: once the CLI's run has ended, it gives the connection a key the provider refuses and starts a run.
  const { url, seen } = await proxy(t, base, async () => {
    await waitFor('the run to finish', async () =>
      ((await call(base, 'GET', `/v1/connections/${id}`, headers)).json.last_run as { status: string }).status !== 'running', { everyMs: 10 })
    t.equal((await call(base, 'PATCH', `/v1/connections/${id}`, headers, { admin_key: 'sk-admin-refused-000000000000' })).status, 200)
    const other = await call(base, 'POST', `/v1/connections/${id}/sync`, headers)
    t.equal(other.status, 202, 'the other client started a run')
    otherStartedAt = (other.json.last_run as { started_at: string }).started_at
  })

  const ran = await cli(['sync', id], { TOKENLEDGER_URL: url, TOKENLEDGER_KEY: headers.authorization.slice('Bearer '.length) })
  t.ok(otherStartedAt, 'the race happened: another run began before the CLI polled')
  t.equal(ran.code, 0, `the CLI's own run succeeded: ${ran.stderr}`)
  t.equal(ran.stderr, '', 'no error from the other client’s run')
  const startedAt = seen.syncAnswer?.last_run.started_at
  t.ok(startedAt)
  t.not(startedAt, otherStartedAt)
  t.match(ran.stdout, new RegExp(`^started_at: ${startedAt}\n`, 'm'), 'it reports the run it started (the 202’s started_at)')
  t.match(ran.stdout, /^status: succeeded\n/m)
  t.match(ran.stdout, new RegExp(`^rows: ${stub.expected().completions.rows}\n`, 'm'), 'with its rows: every row the stub holds (the first pull of the connection)')

  const state = await call(base, 'GET', `/v1/connections/${id}`, headers)
  t.match(state.json.previous_run, { started_at: startedAt, status: 'succeeded', rows: stub.expected().completions.rows }, 'GET shows that run as previous_run')
  t.match(state.json.last_run, { started_at: otherStartedAt }, 'and the other client’s as last_run')
  const gql = await call(base, 'POST', '/graphql', headers, { query: '{ connections { lastRun { startedAt } previousRun { startedAt status rows } } }' })
  t.same(gql.json.data, { connections: [{ lastRun: { startedAt: otherStartedAt }, previousRun: { startedAt, status: 'succeeded', rows: stub.expected().completions.rows } }] }, 'GraphQL shows both runs too')
  server.child.kill('SIGTERM')
  t.equal(await server.exit, 0)
}

void t.test('PGlite: the CLI reports the run it started, not a run another client started after it', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tl-own-run-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await scenario(t, { DATA_DIR: join(dir, 'data') })
})

void t.test('PostgreSQL: the CLI reports the run it started, not a run another client started after it', { skip: !engines().includes('postgres') && 'PostgreSQL only' }, async (t) => {
  const { url } = await freshPostgres(t)
  await scenario(t, { DATABASE_URL: url })
})
