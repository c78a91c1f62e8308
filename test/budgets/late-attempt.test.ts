import { createServer, type ServerResponse } from 'node:http'
import Fastify from 'fastify'
import t, { type Test } from 'tap'
import { sql } from 'drizzle-orm'
import { bearer, build, eachEngine, waitFor } from '../helpers.js'
import { alerts, listenAsReceiver, settle, spentTenant, testEngine } from '../factories/budgets.js'

// An attempt that outlives its lease (its instance stalls: a GC pause, a suspended VM) lets another
// instance claim the next attempt. The late attempt's recordAttempt then overwrote the newer one's
// outcome: a delivered alert went back to pending and was sent again. It is now dropped (and logged).

/** A receiver that holds the first request until `answerFirst(status)` and answers the others 200 at once. */
async function holdingReceiver(t: Test) {
  const state = { requests: 0 }
  let held: ServerResponse | undefined
  const server = createServer((req, res) => {
    state.requests++
    req.resume()
    if (state.requests === 1) held = res
    else res.end('ok')
  })
  const url = await listenAsReceiver(t, server)
  const answerFirst = (status: number) => {
    held!.statusCode = status
    held!.end('no')
  }
  return { url, state, answerFirst }
}

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine, { BUDGET_EVALUATION_INTERVAL_MS: 'off', OUTBOUND_PRIVATE_ADDRESSES: 'allow' })
  const instance = (t: Test) => testEngine(t, app, { webhookTimeoutMs: 10_000, maxAttempts: 5, retryBaseMs: 100 })
  t.test('an attempt that finishes after its budget was deleted fails nothing', async (t) => {
    const receiver = await holdingReceiver(t)
    const { key } = await spentTenant(app, 'gone', receiver.url)
    // A real logger, to see what the engine reports.
    const lines: string[] = []
    const logger = Fastify({ logger: { level: 'warn', stream: { write: (line: string) => lines.push(line) } } })
    t.teardown(() => logger.close())
    const engine = testEngine(t, app, { webhookTimeoutMs: 10_000, maxAttempts: 5, retryBaseMs: 100, log: logger.log })
    await engine.tick()
    await waitFor('the attempt to reach the receiver', () => receiver.state.requests === 1)
    t.equal((await app.inject({ method: 'DELETE', url: '/v1/budgets/gone', headers: bearer(key) })).statusCode, 204)
    receiver.answerFirst(200)
    await engine.idle()
    t.same(
      lines.filter((l) => l.includes('webhook delivery failed')),
      [],
      'no failure is logged',
    )
  })

  t.test("an attempt that finishes after its lease does not overwrite the next attempt's outcome", async (t) => {
    const receiver = await holdingReceiver(t)
    const { tenantId, key } = await spentTenant(app, 'team', receiver.url)

    const stalled = instance(t)
    const other = instance(t)
    await stalled.tick()
    await waitFor('attempt 1 to reach the receiver', () => receiver.state.requests === 1)
    // The stalled instance's lease runs out while its attempt is still open.
    await app.testDb.query(sql`update budget_alerts set next_attempt_at = clock_timestamp() - interval '1 second' where tenant_id = ${tenantId}`)
    await other.tick()
    await other.idle()
    t.equal(receiver.state.requests, 2, 'another instance made attempt 2')
    t.equal((await alerts(app, key, 'team'))[0]?.delivery_status, 'delivered')

    receiver.answerFirst(500)
    await stalled.idle()
    // Had attempt 1's 500 been recorded, the alert would be pending again, its retry due after 100 ms.
    await settle(600)
    await stalled.tick()
    await other.tick()
    await stalled.idle()
    await other.idle()
    const [alert] = await alerts(app, key, 'team')
    t.equal(alert?.delivery_status, 'delivered', "attempt 2's outcome stands")
    t.same(
      alert?.deliveries.map((d) => [d.attempt, d.status_code]),
      [
        [1, 500],
        [2, 200],
      ],
      'both attempts are logged',
    )
    t.equal(receiver.state.requests, 2, 'nothing was sent again')
  })
})
