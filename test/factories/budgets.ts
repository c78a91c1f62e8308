import { createHmac, timingSafeEqual } from 'node:crypto'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo, Server, Socket } from 'node:net'
import Fastify, { type FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import { createBudgetEngine, type BudgetEngineOptions } from '../../src/budgets/budget-engine.js'
import { toBudget } from '../../src/budgets/budget-model.js'
import { evaluateBudget } from '../../src/budgets/evaluate.js'
import type { Db, DbClient } from '../../src/db/client.js'
import { listAllBudgets, type BudgetRow } from '../../src/db/queries/budgets.js'
import tokenledger from '../../src/app.js'
import { admin, bearer, tenantWithKey, testConfig } from '../helpers.js'
import { clearOfMonthTurn } from './turns.js'

export const SECRET = 'whsec_test_0123456789abcdef'
const MODEL = 'budget-test-model'
/** USD per 1M tokens on the test card: input costs $0.37 a token, output $1.15 — easy to cross, not round. */
export const PRICES = { input: '370000', output: '1150000' }

/** A private rate card for the tenant pricing MODEL from 2000 on. */
export async function createCard(app: FastifyInstance, tenantId: string, card = 'budget-card'): Promise<string> {
  const h = { ...admin, 'x-tenant-id': tenantId }
  const c = await app.inject({ method: 'PUT', url: `/v1/rate-cards/${card}`, headers: h, payload: { description: 'budgets test' } })
  if (c.statusCode !== 201) throw new Error(`card: ${c.statusCode} ${c.body}`)
  const r = await app.inject({
    method: 'POST',
    url: `/v1/rate-cards/${card}/rates`,
    headers: h,
    payload: { rates: [{ model: MODEL, effective_from: '2000-01-01T00:00:00Z', prices: PRICES }] },
  })
  if (r.statusCode !== 201) throw new Error(`rates: ${r.statusCode} ${r.body}`)
  return card
}

export async function putBudget(app: FastifyInstance, key: string, name: string, body: Record<string, unknown>) {
  const res = await app.inject({ method: 'PUT', url: `/v1/budgets/${name}`, headers: bearer(key), payload: body })
  if (res.statusCode !== 201 && res.statusCode !== 200) throw new Error(`budget: ${res.statusCode} ${res.body}`)
  return res.json() as Record<string, unknown>
}

/**
 * The start of an hour with usage in the current UTC month: the last full hour, or the current one in the
 * first hour of the 1st — an hour ago is then last month, and a month budget would see none of it. Read
 * at least `spanMs` before the month ends (clearOfMonthTurn): a month budget evaluated by the database's
 * clock within `spanMs` is of the same month (read in a month's last moments, its usage was last month's
 * by the time the budget was evaluated, and the budget never crossed).
 */
export async function usageHour(spanMs = 60_000): Promise<Date> {
  // One reading of the clock: two could fall either side of a month's end.
  const now = await clearOfMonthTurn(spanMs)
  const hour = Math.floor(now.getTime() / 3600_000) * 3600_000
  const monthStart = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)
  return new Date(Math.max(hour - 3600_000, monthStart))
}

/** One canonical bucket of MODEL, one hour from `start`. */
export function bucket(start: Date, input: number, extra: Record<string, unknown> = {}) {
  return {
    start_time: Math.floor(start.getTime() / 1000),
    end_time: Math.floor(start.getTime() / 1000) + 3600,
    model: MODEL,
    input_tokens: input,
    output_tokens: 0,
    num_model_requests: 1,
    ...extra,
  }
}

export async function postBuckets(app: FastifyInstance, key: string, buckets: unknown[]) {
  const res = await app.inject({ method: 'POST', url: '/v1/usage/buckets', headers: bearer(key), payload: { buckets } })
  if (res.statusCode !== 200) throw new Error(`buckets: ${res.statusCode} ${res.body}`)
  return res
}

export interface AlertOut {
  id: string
  threshold: number
  amount: string
  spent: string
  complete: boolean | null
  period_start: string
  period_end: string
  crossed_at: string
  delivery_status: string
  deliveries: { attempt: number; status_code: number | null; error: string | null }[]
}

export async function alerts(app: FastifyInstance, key: string, name: string): Promise<AlertOut[]> {
  const res = await app.inject({ method: 'GET', url: `/v1/budgets/${name}/alerts`, headers: bearer(key) })
  if (res.statusCode !== 200) throw new Error(`alerts: ${res.statusCode} ${res.body}`)
  return (res.json() as { data: AlertOut[] }).data
}

/**
 * A new tenant with $370 of usage this hour, then a $1 monthly budget `name` on the tenant's own card that
 * alerts `webhookUrl` at `thresholds`. The usage is ingested by an instance of its own, closed before the
 * budget is made (closing waits for the evaluation its ingest started), so only the engine a test drives
 * evaluates the budget — not the app's, after an ingest still being evaluated when the budget appeared.
 */
export async function spentTenant(app: FastifyInstance & { testDb: DbClient }, name: string, webhookUrl: string, thresholds = [100]) {
  const { tenantId, key } = await tenantWithKey(app, ['ingest', 'read'])
  await createCard(app, tenantId, `card-${tenantId}`)
  const ingest = Fastify({ logger: false })
  await ingest.register(tokenledger, { config: testConfig({ BUDGET_EVALUATION_INTERVAL_MS: 'off' }), db: app.testDb })
  await ingest.ready()
  await postBuckets(ingest, key, [bucket(await usageHour(), 1000)])
  await ingest.close()
  await putBudget(app, key, name, { amount: '1', period: 'month', rate_card: `card-${tenantId}`, thresholds, webhook_url: webhookUrl })
  return { tenantId, key }
}

export const settle = (ms = 300) => new Promise((r) => setTimeout(r, ms))

export interface Delivery {
  headers: IncomingHttpHeaders
  body: string
  json: Record<string, unknown>
  /** Verified with SECRET exactly as the README's receiver snippet does. */
  signatureValid: boolean
}

/** Verifies `X-Tokenledger-Signature` the way a receiver should: HMAC over "<timestamp>.<body>", constant-time compare. */
function verifySignature(secret: string, headers: IncomingHttpHeaders, body: string): boolean {
  const ts = headers['x-tokenledger-timestamp']
  const sig = headers['x-tokenledger-signature']
  if (typeof ts !== 'string' || typeof sig !== 'string') return false
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex')}`)
  const given = Buffer.from(sig)
  return given.length === expected.length && timingSafeEqual(given, expected)
}

/** A real webhook receiver on port 0; `statuses` are answered in turn (then 200). */
export async function startReceiver(t: Test, statuses: number[] = []) {
  const deliveries: Delivery[] = []
  const queue = [...statuses]
  const server = createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (c: string) => (body += c))
    req.on('end', () => {
      deliveries.push({ headers: req.headers, body, json: JSON.parse(body) as Record<string, unknown>, signatureValid: verifySignature(SECRET, req.headers, body) })
      res.statusCode = queue.shift() ?? 200
      res.end('ok')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}/hooks/budget`, deliveries }
}

/**
 * Listens on 127.0.0.1 (port 0) and returns the receiver's URL; at teardown the open connections are cut
 * (a receiver that never answers holds them) and the server closes.
 */
export async function listenAsReceiver(t: Test, server: Server): Promise<string> {
  const sockets = new Set<Socket>()
  server.on('connection', (s: Socket) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const s of sockets) s.destroy()
    return new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`
}

/**
 * A budget engine of its own on the app's database, as an instance runs it (a timer pass on demand:
 * `tick()`), closed when the test ends. The app's own engine is not reachable from a test.
 */
export function testEngine(t: Test, app: FastifyInstance & { testDb: Db }, o: Partial<BudgetEngineOptions> & Pick<BudgetEngineOptions, 'webhookTimeoutMs' | 'maxAttempts' | 'retryBaseMs'>) {
  const engine = createBudgetEngine({ db: app.testDb, secretBox: undefined, log: app.log, maxGroups: 100_000, intervalMs: 'off', allowPrivateAddresses: true, ...o })
  t.teardown(() => engine.close())
  return engine
}

/** The hour of usage the stale-evaluation tests write, and the group bound the timer's pass uses. */
const STALE_WRITTEN = { start: new Date('2026-01-10T12:00:00Z'), end: new Date('2026-01-10T13:00:00Z') }

/**
 * An evaluation replayed as the timer runs it: `listed` reads the budget as its pass lists it (before what a
 * test changes next), `evaluateStale` evaluates that row afterwards (stale-evaluation and stale-scope tests).
 */
export function staleEvaluation(db: Db) {
  const listed = async (tenantId: string, name: string): Promise<BudgetRow> => {
    const row = (await listAllBudgets(db)).find((b) => b.tenant_id === tenantId && b.name === name)
    if (!row) throw new Error(`budget ${name} not listed`)
    return row
  }
  const evaluateStale = (row: BudgetRow) => evaluateBudget(db, toBudget(row), new Date(), 200_000, STALE_WRITTEN)
  return { listed, evaluateStale }
}
