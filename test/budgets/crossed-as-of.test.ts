import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey, waitFor } from '../helpers.js'
import { alerts, bucket, createCard, postBuckets, putBudget } from '../factories/budgets.js'

// A budget's status at a past instant counted its spend up to that instant, but `crossed` took every alert
// recorded for the period, including those recorded after the instant: asked at 10 March, a budget that
// had spent 37% by then showed 50% crossed — an alert recorded once the spend of the 20th reached it.

const EARLY = new Date('2026-03-02T10:00:00Z')
const LATE = new Date('2026-03-20T10:00:00Z')

interface Status { spent: string; percent_used: string; crossed: number[] }

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine, { BUDGET_EVALUATION_INTERVAL_MS: 'off' })
  const { tenantId, key } = await tenantWithKey(app)
  const card = await createCard(app, tenantId, `card-${tenantId}`)
  // $1 a month; one input token costs $0.37.
  await putBudget(app, key, 'monthly', { amount: '1', period: 'month', rate_card: card, thresholds: [50, 100] })
  await postBuckets(app, key, [bucket(EARLY, 1), bucket(LATE, 1)]) // 37% by the 2nd, 74% by the 20th
  await waitFor('the 50% alert', async () => (await alerts(app, key, 'monthly')).length === 1)
  const [alert] = await alerts(app, key, 'monthly')

  const rest = async (at: string) => {
    const res = await app.inject({ method: 'GET', url: `/v1/budgets/monthly?at=${encodeURIComponent(at)}`, headers: bearer(key) })
    t.equal(res.statusCode, 200, res.body)
    return res.json() as Status
  }
  const graphql = async (at: string) => {
    const query = 'query($at: DateTime) { budgets(at: $at) { spent percentUsed crossed } }'
    const res = await app.inject({ method: 'POST', url: '/graphql', headers: bearer(key), payload: { query, variables: { at } } })
    const body = res.json() as { data: { budgets: { spent: string; percentUsed: string; crossed: number[] }[] }; errors?: unknown }
    t.equal(body.errors, undefined)
    return body.data.budgets[0]!
  }

  t.test('an alert recorded after the instant is not crossed at it', async (t) => {
    t.ok(alert && new Date(alert.crossed_at) > LATE, 'the alert was recorded after the spend of the 20th')
    const past = await rest('2026-03-10T00:00:00Z')
    t.same([past.spent, past.percent_used, past.crossed], ['0.37', '37', []])
    const viaGraphql = await graphql('2026-03-10T00:00:00Z')
    t.same([viaGraphql.spent, viaGraphql.percentUsed, viaGraphql.crossed], ['0.37', '37', []], 'GraphQL budgets(at:) too')
  })

  t.test('the spend that reached it counts from its own instant', async (t) => {
    t.same((await rest('2026-03-20T09:59:59.999Z')).crossed, [])
    const reached = await rest('2026-03-20T10:00:00Z')
    t.same([reached.spent, reached.crossed], ['0.74', [50]])
    t.same((await graphql('2026-03-25T00:00:00Z')).crossed, [50])
  })
})
