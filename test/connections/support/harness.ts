import Fastify, { type FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import app from '../../../src/app.js'
import type { BilledCostSink } from '../../../src/connections/cost-sink.js'
import type { DbClient, Engine } from '../../../src/db/client.js'
import { freshDb, tenantWithKey, testConfig, waitFor } from '../../helpers.js'
import { StubProvider } from './stub-provider.js'

export const OPENAI_KEY = 'sk-admin-OPENAI-test-key-0123456789wxyz'
export const ANTHROPIC_KEY = 'sk-ant-admin01-ANTHROPIC-test-key-9876543210abcd'
const HOUR = 3_600_000

/**
 * Fast retries, so fault scenarios take milliseconds; the timer off (runs are started by the test). The
 * request timeout is 10 s: the stub answers from this process, and on PGlite a loaded machine kept the
 * event loop busy past a 400 ms timeout three times in a row (a failed run in CI, not a fault). The one
 * test of the timeout itself sets its own (`SLOW_FAULT`).
 */
export const SYNC_CONFIG = {
  TOKENLEDGER_SYNC: 'off',
  SYNC_RETRY_BASE_MS: '5',
  SYNC_RETRY_MAX_MS: '40',
  SYNC_REQUEST_TIMEOUT_MS: '10000',
  SYNC_MAX_ATTEMPTS: '3',
  // PostgreSQL needs a configured key (PGlite would generate one per process for memory://).
  TOKENLEDGER_SECRET_KEY: '0f'.repeat(32),
  // The stub providers listen on loopback, which a connection may reach only when allowed.
  OUTBOUND_PRIVATE_ADDRESSES: 'allow',
}

export async function buildWith(t: Test, engine: Engine, opts: { db?: DbClient; costSink?: BilledCostSink; config?: Record<string, string>; logStream?: { write(line: string): void } } = {}) {
  const config = testConfig({ ...SYNC_CONFIG, ...opts.config })
  const db = opts.db ?? (await freshDb(t, engine))
  const server = Fastify({ logger: opts.logStream ? { level: 'trace', stream: opts.logStream } : false, pluginTimeout: 120_000 })
  await server.register(app, { config, db, ...(opts.costSink ? { costSink: opts.costSink } : {}) })
  await server.ready()
  t.teardown(() => server.close())
  return Object.assign(server as FastifyInstance, { testDb: db })
}

/** A stub whose usage spans `hours` whole hours ending two hours ago. */
export async function startStub(t: Test, hours = 30, extra: { rowsPerBucket?: number; pageBuckets?: number } = {}) {
  const dataEnd = Math.floor(Date.now() / HOUR) * HOUR - 2 * HOUR
  const stub = await new StubProvider({ openaiKey: OPENAI_KEY, anthropicKey: ANTHROPIC_KEY, dataStart: dataEnd - hours * HOUR, dataEnd, ...extra }).start()
  t.teardown(() => stub.close())
  return stub
}

export async function tenant(app: FastifyInstance) {
  const { tenantId, key } = await tenantWithKey(app)
  return { tenantId, headers: { authorization: `Bearer ${key}` } }
}

export async function createConnection(app: FastifyInstance, headers: Record<string, string>, body: Record<string, unknown>) {
  const res = await app.inject({ method: 'POST', url: '/v1/connections', headers, payload: body })
  if (res.statusCode !== 201) throw new Error(`create: ${res.statusCode} ${res.body}`)
  return res.json() as { id: string } & Record<string, unknown>
}

export interface ConnectionState {
  id: string
  synced_until: Record<string, string | null>
  last_run: { status: string; pages: number; rows: number; error: string | null; finished_at: string | null } | null
  [k: string]: unknown
}

export async function getState(app: FastifyInstance, headers: Record<string, string>, id: string): Promise<ConnectionState> {
  const res = await app.inject({ method: 'GET', url: `/v1/connections/${id}`, headers })
  if (res.statusCode !== 200) throw new Error(`get: ${res.statusCode} ${res.body}`)
  return res.json() as ConnectionState
}

/** POST …/sync, then polls until the run has finished. */
export async function syncAndWait(app: FastifyInstance, headers: Record<string, string>, id: string, timeoutMs = 60_000): Promise<ConnectionState> {
  const res = await app.inject({ method: 'POST', url: `/v1/connections/${id}/sync`, headers })
  if (res.statusCode !== 202) throw new Error(`sync: ${res.statusCode} ${res.body}`)
  return waitForRun(app, headers, id, timeoutMs)
}

export async function waitForRun(app: FastifyInstance, headers: Record<string, string>, id: string, timeoutMs = 60_000): Promise<ConnectionState> {
  let state: ConnectionState | undefined
  return waitFor('the run to finish', async () => {
    state = await getState(app, headers, id)
    return state.last_run && state.last_run.status !== 'running' ? state : undefined
  }, { timeoutMs, everyMs: 20, state: () => `last run ${JSON.stringify(state?.last_run)}` })
}

/** What the ledger holds for a tenant, summed exactly in SQL (numeric/bigint → text). */
export async function ledgerTotals(db: DbClient, tenantId: string) {
  const buckets = await db.query<{ provider: string; usage_type: string; rows: number; input: string; output: string; requests: string | null; cached_text: string; in_text: string }>(
    `select provider, usage_type, count(*)::int as rows, sum(input_tokens)::text as input, sum(output_tokens)::text as output,
       sum(num_model_requests)::text as requests, sum(cached_text)::text as cached_text, sum(in_text)::text as in_text
     from usage_buckets where tenant_id = $1 group by provider, usage_type order by provider, usage_type`,
    [tenantId],
  )
  const resources = await db.query<{ provider: string; resource: string; rows: number; quantity: string }>(
    `select provider, resource, count(*)::int as rows, sum(quantity)::text as quantity from usage_resources where tenant_id = $1 group by provider, resource order by provider, resource`,
    [tenantId],
  )
  return { buckets, resources }
}

/** Every stored row with its update time: equal snapshots mean a run changed nothing. */
export async function ledgerSnapshot(db: DbClient, tenantId: string) {
  return db.query(
    `select id, start_time, input_tokens, output_tokens, updated_at from usage_buckets where tenant_id = $1
     union all select id, start_time, 0, 0, updated_at from usage_resources where tenant_id = $1 order by 1, 2`,
    [tenantId],
  )
}
