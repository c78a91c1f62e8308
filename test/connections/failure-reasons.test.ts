import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { eachEngine, waitFor } from '../helpers.js'
import { buildWith, createConnection, OPENAI_KEY, startStub, syncAndWait, tenant } from './support/harness.js'

/**
 * `tokenledger_sync_failures_total{reason}` labels a failed run by what failed, not by reading its error
 * text back: a request timeout of 400 ms ("no answer within 400 ms") was labelled `refused` as a 4xx is,
 * and a run that lost its lease (the connection deleted mid-run) `provider_error`.
 */
async function scrape(app: FastifyInstance): Promise<Record<string, number>> {
  const res = await app.inject({ method: 'GET', url: '/metrics' })
  const out: Record<string, number> = {}
  for (const m of res.body.matchAll(/^tokenledger_sync_failures_total\{provider="openai",reason="([^"]+)"\} (\d+)$/gm)) out[m[1]!] = Number(m[2])
  return out
}

/** The failure counter once the run has counted its outcome (it does so just after recording it). */
async function failures(app: FastifyInstance): Promise<Record<string, number>> {
  for (let i = 0; i < 1000; i++) {
    const seen = await scrape(app)
    if (Object.keys(seen).length > 0) return seen
    await new Promise((r) => setTimeout(r, 20))
  }
  throw new Error('no failure counted')
}

const sync = async (app: FastifyInstance, headers: Record<string, string>, id: string) => {
  const res = await app.inject({ method: 'POST', url: `/v1/connections/${id}/sync`, headers })
  if (res.statusCode !== 202) throw new Error(`sync: ${res.statusCode}`)
}

const body = (url: string, start: number, key = OPENAI_KEY) => ({ name: 'o', provider: 'openai', admin_key: key, base_url: url, start_date: new Date(start).toISOString(), endpoints: ['completions'] })

void t.test('requests that time out are a provider_error, not refused', (t) =>
  eachEngine(t, async (t, engine) => {
    const stub = await startStub(t, 4)
    const app = await buildWith(t, engine, { config: { SYNC_REQUEST_TIMEOUT_MS: '400' } })
    const { headers } = await tenant(app)
    const conn = await createConnection(app, headers, body(stub.url, stub.opts.dataStart))
    stub.fault('slow', { times: 3, ms: 1_500 })
    const state = await syncAndWait(app, headers, conn.id)
    t.match(state.last_run, { status: 'failed', error: /no answer within 400 ms/ })
    t.same(await failures(app), { provider_error: 1 })
  }),
)

void t.test('a run that lost its lease (its connection deleted mid-run) is labelled lease_lost', (t) =>
  eachEngine(t, async (t, engine) => {
    const stub = await startStub(t, 30)
    stub.delayMs = 300
    const app = await buildWith(t, engine)
    const { headers } = await tenant(app)
    const conn = await createConnection(app, headers, body(stub.url, stub.opts.dataStart))
    await sync(app, headers, conn.id)
    await waitFor('request 1 to reach the stub', () => stub.requests.length >= 1, { everyMs: 10 })
    t.equal((await app.inject({ method: 'DELETE', url: `/v1/connections/${conn.id}`, headers })).statusCode, 204)
    t.same(await failures(app), { lease_lost: 1 })
  }),
)

void t.test('a key the provider refuses is unauthorized', (t) =>
  eachEngine(t, async (t, engine) => {
    const stub = await startStub(t, 4)
    const app = await buildWith(t, engine)
    const { headers } = await tenant(app)
    const conn = await createConnection(app, headers, body(stub.url, stub.opts.dataStart, 'sk-admin-wrong-key-000000'))
    t.match((await syncAndWait(app, headers, conn.id)).last_run, { status: 'failed', error: /answered 401/ })
    t.same(await failures(app), { unauthorized: 1 })
  }),
)
