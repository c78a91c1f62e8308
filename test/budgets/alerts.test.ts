import { Decimal } from 'decimal.js'
import t from 'tap'
import { toBudget } from '../../src/budgets/budget-model.js'
import { evaluateBudget } from '../../src/budgets/evaluate.js'
import { getBudget } from '../../src/db/queries/budgets.js'
import { admin, bearer, build, eachEngine, tenantWithKey, waitFor } from '../helpers.js'
import { alerts, bucket, createCard, postBuckets, PRICES, putBudget, SECRET, settle, startReceiver, usageHour } from '../factories/budgets.js'

const CONFIG = { BUDGET_EVALUATION_INTERVAL_MS: 'off', OUTBOUND_PRIVATE_ADDRESSES: 'allow', BUDGET_WEBHOOK_RETRY_BASE_MS: '50', BUDGET_WEBHOOK_TIMEOUT_MS: '15000', BUDGET_WEBHOOK_MAX_ATTEMPTS: '3' }
// A month in the past, so nothing but these tests' rows is in it.
const JAN = new Date('2026-01-10T12:00:00Z')
// The receiver shares this process with PGlite, which blocks the event loop while a query runs: a
// generous per-attempt timeout keeps a slow answer from becoming a (legitimate, at-least-once) retry.
const cost = (input: number) => new Decimal(input).times(PRICES.input).times('0.000001').toFixed()

void eachEngine(t, async (t, engine) => {
  // One app per engine (PGlite start-up is slow); every test has its own tenant.
  const app = await build(t, engine, CONFIG)
  t.test('one alert per threshold crossing, signed, delivered once to a real receiver', async (t) => {
    const { tenantId, key } = await tenantWithKey(app)
    const card = await createCard(app, tenantId, `card-${tenantId}`)
    const receiver = await startReceiver(t)
    // amount $100: 150 input tokens at $0.37 = $55.50 → 50%; 100 more → $92.50 → 80%.
    await putBudget(app, key, 'team', { amount: '100', period: 'month', rate_card: card, thresholds: [50, 80, 100], webhook_url: receiver.url, webhook_secret: SECRET })
    await postBuckets(app, key, [bucket(JAN, 150)])
    await waitFor('the 50% delivery', () => receiver.deliveries.length === 1)
    await postBuckets(app, key, [bucket(JAN, 150)]) // same key: replaced by the same content, nothing moves
    await postBuckets(app, key, [bucket(new Date(JAN.getTime() + 3600_000), 100)])
    await waitFor('the 80% delivery', () => receiver.deliveries.length === 2)
    await settle()
    t.equal(receiver.deliveries.length, 2, 'nothing delivered twice')
    t.ok(receiver.deliveries.every((d) => d.signatureValid), 'every signature verifies with the secret')
    const [first, second] = receiver.deliveries.map((d) => d.json)
    t.same(first, {
      id: first!.id,
      budget: 'team',
      threshold: 50,
      amount: '100',
      spent: cost(150),
      period_start: '2026-01-01T00:00:00.000Z',
      period_end: '2026-02-01T00:00:00.000Z',
      crossed_at: first!.crossed_at,
      complete: true,
    })
    t.match(second, { threshold: 80, spent: cost(250) })
    const now = Math.floor(Date.now() / 1000)
    const ts = Number(receiver.deliveries[0]!.headers['x-tokenledger-timestamp'])
    t.ok(Math.abs(now - ts) < 60, 'X-Tokenledger-Timestamp is unix seconds, now')
    // The attempt is logged once the receiver's answer is back, just after it saw the request.
    await waitFor('both attempts logged', async () => (await alerts(app, key, 'team')).every((a) => a.delivery_status === 'delivered'))
    const listed = await alerts(app, key, 'team')
    t.same(listed.map((a) => [a.threshold, a.delivery_status, a.deliveries.map((d) => d.status_code)]), [[80, 'delivered', [200]], [50, 'delivered', [200]]])
  })

  t.test('an alert whose spend leaves out unpriced usage says so: complete false, in the payload and the list', async (t) => {
    const { tenantId, key } = await tenantWithKey(app)
    const card = await createCard(app, tenantId, `card-${tenantId}`)
    const receiver = await startReceiver(t)
    await putBudget(app, key, 'partial', { amount: '100', period: 'month', rate_card: card, thresholds: [50, 80], webhook_url: receiver.url, webhook_secret: SECRET })
    // $55.50 priced → 50%; then tokens of a model the card has no rate for: the spend stays a lower bound.
    await postBuckets(app, key, [bucket(JAN, 150)])
    await waitFor('the 50% delivery', () => receiver.deliveries.length === 1)
    await postBuckets(app, key, [bucket(new Date(JAN.getTime() + 3600_000), 1_000_000, { model: 'model-without-a-rate' }), bucket(new Date(JAN.getTime() + 7200_000), 100)])
    await waitFor('the 80% delivery', () => receiver.deliveries.length === 2)
    const [first, second] = receiver.deliveries.map((d) => d.json)
    t.match(first, { threshold: 50, spent: cost(150), complete: true }, 'every token of the first crossing had a price')
    t.match(second, { threshold: 80, spent: cost(250), complete: false }, 'the second crossing’s spend leaves out the unpriced tokens, and says so')
    await waitFor('both attempts logged', async () => (await alerts(app, key, 'partial')).every((a) => a.delivery_status === 'delivered'))
    t.same((await alerts(app, key, 'partial')).map((a) => [a.threshold, a.complete]), [[80, false], [50, true]], 'the alert list says the same')
  })

  t.test('a later re-pricing that lowers spend neither removes nor re-sends an alert', async (t) => {
    const { tenantId, key } = await tenantWithKey(app)
    const card = await createCard(app, tenantId, `card-${tenantId}`)
    const receiver = await startReceiver(t)
    await putBudget(app, key, 'facts', { amount: '10', period: 'month', rate_card: card, thresholds: [50], webhook_url: receiver.url, webhook_secret: SECRET })
    // In the current period: a status shows the alerts recorded by its instant, and these are recorded now.
    // usageHour, not this hour read here: that was last month's by the GET when a month turned meanwhile.
    const hour = await usageHour()
    await postBuckets(app, key, [bucket(hour, 20)]) // $7.40 → 74%
    await waitFor('the delivery', () => receiver.deliveries.length === 1)
    const [rate] = await app.testDb.query<{ id: number }>('select r.id from rates r join rate_cards c on c.id = r.card_id where c.name = $1', [card])
    const corrected = await app.inject({
      method: 'POST',
      url: `/v1/rate-cards/${card}/rates`,
      headers: { ...admin, 'x-tenant-id': tenantId },
      payload: { rates: [{ model: 'budget-test-model', effective_from: '2000-01-01T00:00:00Z', prices: { input: '1', output: '1' }, supersedes: rate!.id }] },
    })
    t.equal(corrected.statusCode, 201, corrected.body)
    await postBuckets(app, key, [bucket(hour, 1, { account_id: 'acct_b' })]) // evaluates again, now far below 50%
    await settle()
    const budget = (await app.inject({ method: 'GET', url: '/v1/budgets/facts', headers: bearer(key) })).json()
    t.equal(budget.spent, '0.000021', 'spend follows the corrected price')
    t.same(budget.crossed, [50], 'the recorded crossing stays')
    const listed = await alerts(app, key, 'facts')
    t.same(listed.map((a) => [a.threshold, a.spent]), [[50, cost(20)]], 'the alert keeps the spend it was recorded with')
    t.equal(receiver.deliveries.length, 1, 'nothing re-sent')
  })

  t.test('a receiver answering 500 gets retries until it accepts; every attempt is logged', async (t) => {
    const { tenantId, key } = await tenantWithKey(app)
    const card = await createCard(app, tenantId, `card-${tenantId}`)
    const receiver = await startReceiver(t, [500, 500])
    await putBudget(app, key, 'retry', { amount: '10', period: 'month', rate_card: card, thresholds: [100], webhook_url: receiver.url, webhook_secret: SECRET })
    const started = Date.now()
    await postBuckets(app, key, [bucket(JAN, 100)])
    await waitFor('the third attempt', () => receiver.deliveries.length === 3)
    t.ok(Date.now() - started >= 150, 'backoff waits 50 ms, then 100 ms')
    t.equal(new Set(receiver.deliveries.map((d) => d.json.id)).size, 1, 'the same alert each time')
    t.ok(receiver.deliveries.every((d) => d.signatureValid))
    await waitFor('the delivered state', async () => (await alerts(app, key, 'retry'))[0]?.delivery_status === 'delivered')
    const [alert] = await alerts(app, key, 'retry')
    t.same(alert!.deliveries.map((d) => [d.attempt, d.status_code, d.error]), [[1, 500, 'HTTP 500'], [2, 500, 'HTTP 500'], [3, 200, null]])
    // One app serves every test of this file: the counts include the earlier tests' deliveries.
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body
    const count = (outcome: string) => Number(new RegExp(`^tokenledger_alert_deliveries_total\\{channel="webhook",outcome="${outcome}"\\} (\\d+)$`, 'm').exec(metrics)?.[1] ?? 0)
    t.ok(count('retried') >= 2, `the two 500s are counted as retried deliveries (${count('retried')})`)
    t.ok(count('delivered') >= 1, `the accepted attempt is counted as delivered (${count('delivered')})`)
  })

  t.test('a receiver that is down never blocks ingest; attempts stop at the bound', async (t) => {
    const { tenantId, key } = await tenantWithKey(app)
    const card = await createCard(app, tenantId, `card-${tenantId}`)
    // Port 9 (discard) on localhost: connection refused.
    await putBudget(app, key, 'down', { amount: '1', period: 'month', rate_card: card, thresholds: [100], webhook_url: 'http://127.0.0.1:9/x' })
    const res = await postBuckets(app, key, [bucket(JAN, 10)])
    t.equal(res.statusCode, 200)
    await waitFor('the attempts to give up', async () => (await alerts(app, key, 'down'))[0]?.delivery_status === 'failed')
    const [alert] = await alerts(app, key, 'down')
    t.equal(alert!.deliveries.length, 3, 'BUDGET_WEBHOOK_MAX_ATTEMPTS attempts')
    t.ok(alert!.deliveries.every((d) => d.status_code === null && d.error), 'each attempt records the error')
  })

  t.test('no alert for a budget whose filter does not match the ingested usage', async (t) => {
    const { tenantId, key } = await tenantWithKey(app)
    const card = await createCard(app, tenantId, `card-${tenantId}`)
    const receiver = await startReceiver(t)
    const hook = { webhook_url: receiver.url, webhook_secret: SECRET, rate_card: card, period: 'month', amount: '1', thresholds: [100] }
    // Evaluated in name order: "a-other" before "b-match", so its evaluation is over once b's alert exists.
    await putBudget(app, key, 'a-other', { ...hook, filter: { project_ids: ['proj_other'] } })
    await putBudget(app, key, 'b-match', { ...hook, filter: { project_ids: ['proj_a'] } })
    await postBuckets(app, key, [bucket(JAN, 10, { project_id: 'proj_a' })])
    await waitFor('the matching alert', async () => (await alerts(app, key, 'b-match')).length === 1)
    await settle()
    t.same(await alerts(app, key, 'a-other'), [])
    t.same(receiver.deliveries.map((d) => d.json.budget), ['b-match'])
  })

  t.test('20 concurrent ingests crossing a threshold record one alert', async (t) => {
    const { tenantId, key } = await tenantWithKey(app)
    const card = await createCard(app, tenantId, `card-${tenantId}`)
    const receiver = await startReceiver(t)
    await putBudget(app, key, 'burst', { amount: '37', period: 'month', rate_card: card, thresholds: [100], webhook_url: receiver.url, webhook_secret: SECRET })
    // 20 buckets of 5 tokens ($1.85 each): the 20th reaches $37 exactly.
    const posts = Array.from({ length: 20 }, (_, i) =>
      app.inject({ method: 'POST', url: '/v1/usage/buckets', headers: bearer(key), payload: { buckets: [bucket(new Date(JAN.getTime() + i * 3600_000), 5)] } }),
    )
    t.same((await Promise.all(posts)).map((r) => r.statusCode), Array(20).fill(200))
    await waitFor('the alert', () => receiver.deliveries.length === 1)
    await settle(500)
    t.equal(receiver.deliveries.length, 1)
    t.equal((await alerts(app, key, 'burst')).length, 1)
  })

  t.test('20 concurrent evaluations of one crossing: the unique key records it once', async (t) => {
    const { tenantId, key } = await tenantWithKey(app)
    const card = await createCard(app, tenantId, `card-${tenantId}`)
    await putBudget(app, key, 'race', { amount: '1', period: 'month', rate_card: card, thresholds: [50, 100] })
    await app.testDb.query(
      `insert into usage_buckets (tenant_id, provider, start_time, end_time, model, service_tier, source, input_tokens, output_tokens, in_text, num_model_requests)
       values ($1, 'openai', $2, $3, $4, 'default', 'api', 10, 0, 10, 1)`,
      [tenantId, JAN.toISOString(), new Date(JAN.getTime() + 3600_000).toISOString(), 'budget-test-model'],
    )
    const budget = toBudget((await getBudget(app.testDb, tenantId, 'race'))!)
    const span = { start: JAN, end: JAN }
    const recorded = await Promise.all(Array.from({ length: 20 }, () => evaluateBudget(app.testDb, budget, new Date(), 200_000, span)))
    t.same(recorded.flat().map((a) => a.threshold).sort(), [100, 50], 'each threshold returned to exactly one evaluation')
    t.equal((await alerts(app, key, 'race')).length, 2)
  })
})
