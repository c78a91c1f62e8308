import t from 'tap'
import { bearer, build, eachEngine, isProblem, tenantWithKey, waitFor } from '../helpers.js'
import { bucket, createCard, postBuckets, putBudget, SECRET, startReceiver } from '../factories/budgets.js'

// A PUT without webhook_secret kept the stored secret whatever webhook_url it moved to: pointed at another
// receiver, the budget went on signing with the secret given for the first one — to a receiver the writer
// chose, without it knowing a secret was kept, and with real signatures to test guesses of it against.
// The secret is kept for the same origin only; another origin needs webhook_secret (or null: unsigned).

const JAN = new Date('2026-01-10T12:00:00Z')
const MOVES = 'the webhook_url moves to another origin: send webhook_secret, or null to send unsigned'

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine, { BUDGET_EVALUATION_INTERVAL_MS: 'off', OUTBOUND_PRIVATE_ADDRESSES: 'allow' })
  const put = (key: string, name: string, payload: Record<string, unknown>) => app.inject({ method: 'PUT', url: `/v1/budgets/${name}`, headers: bearer(key), payload })
  const get = async (key: string, name: string) => (await app.inject({ method: 'GET', url: `/v1/budgets/${name}`, headers: bearer(key) })).json() as { webhook_url: string; webhook_secret_set: boolean }

  t.test('another origin without webhook_secret is a 400 naming it, and writes nothing', async (t) => {
    const { tenantId, key } = await tenantWithKey(app)
    const card = await createCard(app, tenantId, `card-${tenantId}`)
    const [first, other] = [await startReceiver(t), await startReceiver(t)]
    const body = { amount: '1', period: 'month', rate_card: card, thresholds: [100] }
    await putBudget(app, key, 'moved', { ...body, webhook_url: first.url, webhook_secret: SECRET })
    const named = async (payload: Record<string, unknown>) => {
      const res = await put(key, 'moved', payload)
      t.equal(res.statusCode, 400)
      t.ok(isProblem(res))
      return (res.json() as { errors: { path: string; message: string }[] }).errors.map((e) => [e.path, e.message]).sort()
    }
    t.same(await named({ ...body, webhook_url: other.url }), [['body.webhook_secret', MOVES]])
    t.same(await named({ ...body, amount: '0', webhook_url: other.url }), [['body.amount', 'must be greater than 0'], ['body.webhook_secret', MOVES]], 'every problem named')
    t.match(await get(key, 'moved'), { webhook_url: first.url, webhook_secret_set: true }, 'nothing written')
    await postBuckets(app, key, [bucket(JAN, 10)])
    await waitFor('the delivery', () => first.deliveries.length === 1)
    t.ok(first.deliveries[0]!.signatureValid, 'still signed, for the first receiver')
    t.equal(other.deliveries.length, 0)
  })

  t.test('the same origin keeps the secret; null or a new one moves it on', async (t) => {
    const { tenantId, key } = await tenantWithKey(app)
    const card = await createCard(app, tenantId, `card-${tenantId}`)
    const [first, other] = [await startReceiver(t), await startReceiver(t)]
    const body = { amount: '1', period: 'month', rate_card: card, thresholds: [100] }
    await putBudget(app, key, 'kept', { ...body, webhook_url: first.url, webhook_secret: SECRET })
    t.equal((await put(key, 'kept', { ...body, webhook_url: `${first.url}/v2?team=a` })).statusCode, 200)
    t.match(await get(key, 'kept'), { webhook_url: `${first.url}/v2?team=a`, webhook_secret_set: true }, 'another path of the same origin keeps it')
    await postBuckets(app, key, [bucket(JAN, 10)])
    await waitFor('the delivery', () => first.deliveries.length === 1)
    t.ok(first.deliveries[0]!.signatureValid, 'signed with the kept secret')

    t.equal((await put(key, 'kept', { ...body, webhook_url: other.url, webhook_secret: null })).statusCode, 200)
    t.match(await get(key, 'kept'), { webhook_url: other.url, webhook_secret_set: false }, 'null: unsigned')
    t.equal((await put(key, 'kept', { ...body, webhook_url: first.url, webhook_secret: 'whsec_another_0123456789' })).statusCode, 200)
    t.match(await get(key, 'kept'), { webhook_url: first.url, webhook_secret_set: true }, 'a new secret for the new origin')
  })

  t.test('a budget without a secret moves anywhere', async (t) => {
    const { key } = await tenantWithKey(app)
    const [first, other] = [await startReceiver(t), await startReceiver(t)]
    await putBudget(app, key, 'unsigned', { amount: '1', period: 'day', webhook_url: first.url })
    t.equal((await put(key, 'unsigned', { amount: '1', period: 'day', webhook_url: other.url })).statusCode, 200)
    t.match(await get(key, 'unsigned'), { webhook_url: other.url, webhook_secret_set: false })
  })
})
