import { createServer, type ServerResponse } from 'node:http'
import t, { type Test } from 'tap'
import { build, eachEngine, waitFor } from '../helpers.js'
import { alerts, listenAsReceiver, spentTenant, startReceiver, testEngine } from '../factories/budgets.js'

// One evaluation that records many alerts started every delivery at once: 1000 budgets × 50 thresholds to a
// receiver that never answers held ~500 sockets on one instance, and other tenants' ingests slowed to 1–5 s
// (docs/reliability.md, round 31). An instance now makes at most BUDGET_WEBHOOK_CONCURRENCY attempts at
// once and BUDGET_WEBHOOK_TENANT_CONCURRENCY of one tenant, the tenants served in turn.

const THRESHOLDS = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]

/** A receiver that holds every request until the test answers it, counting how many are open at once. */
async function holdingReceiver(t: Test) {
  const state = { requests: 0, open: 0, maxOpen: 0 }
  const held: ServerResponse[] = []
  const server = createServer((req, res) => {
    state.requests++
    state.open++
    state.maxOpen = Math.max(state.maxOpen, state.open)
    res.once('close', () => state.open--)
    req.resume()
    held.push(res)
  })
  const answerAll = () => held.splice(0).forEach((res) => res.end('ok'))
  return { url: await listenAsReceiver(t, server), state, held, answerAll }
}

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine, { BUDGET_EVALUATION_INTERVAL_MS: 'off', OUTBOUND_PRIVATE_ADDRESSES: 'allow' })

  t.test('a tenant whose receiver hangs holds its share of attempts; another tenant is delivered meanwhile', async (t) => {
    const hanging = await holdingReceiver(t)
    const quick = await startReceiver(t)
    const a = await spentTenant(app, 'many', hanging.url, THRESHOLDS)
    const b = await spentTenant(app, 'one', quick.url)
    const instance = testEngine(t, app, { webhookTimeoutMs: 30_000, maxAttempts: 3, retryBaseMs: 100, deliveryLimits: { total: 3, perTenant: 2, maxQueued: 100 } })
    await instance.tick()

    await waitFor('two attempts of the hanging tenant and the other tenant’s delivery', () => hanging.held.length === 2 && quick.deliveries.length === 1)
    t.equal((await alerts(app, b.key, 'one'))[0]?.delivery_status, 'delivered', 'the other tenant was delivered while the first one’s receiver hangs')
    t.equal(hanging.state.maxOpen, 2, 'the hanging tenant has two attempts open, not ten')

    // Answered, the rest go out two at a time, each alert once.
    await waitFor('every alert of the hanging tenant to be answered', () => {
      hanging.answerAll()
      return hanging.state.requests === THRESHOLDS.length && hanging.held.length === 0
    })
    await instance.idle()
    t.equal(hanging.state.maxOpen, 2, 'never more than two open at once')
    const sent = await alerts(app, a.key, 'many')
    t.equal(sent.length, THRESHOLDS.length)
    t.same(sent.map((x) => [x.delivery_status, x.deliveries.length]), THRESHOLDS.map(() => ['delivered', 1]), 'each alert delivered by one attempt')
  })

  t.test('closing forgets the queued attempts; they stay due and another instance makes them', async (t) => {
    const hanging = await holdingReceiver(t)
    const a = await spentTenant(app, 'many', hanging.url, THRESHOLDS)
    const first = testEngine(t, app, { webhookTimeoutMs: 30_000, maxAttempts: 3, retryBaseMs: 100, deliveryLimits: { total: 1, perTenant: 1, maxQueued: 100 } })
    await first.tick()
    await waitFor('the first attempt to be held', () => hanging.held.length === 1)
    const closing = first.close()
    hanging.answerAll()
    await closing
    t.equal(hanging.state.requests, 1, 'closed with one attempt made and nine forgotten')
    const pending = (await alerts(app, a.key, 'many')).filter((x) => x.delivery_status === 'pending')
    t.equal(pending.length, THRESHOLDS.length - 1, 'the nine are still pending')

    const second = testEngine(t, app, { webhookTimeoutMs: 30_000, maxAttempts: 3, retryBaseMs: 100 })
    await second.tick()
    await waitFor('the nine to reach the receiver', () => {
      hanging.answerAll()
      return hanging.state.requests === THRESHOLDS.length && hanging.held.length === 0
    })
    await second.idle()
    t.same((await alerts(app, a.key, 'many')).map((x) => x.delivery_status), THRESHOLDS.map(() => 'delivered'), 'all delivered, each once')
  })
})
