import { Decimal } from 'decimal.js'
import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'
import { bucket, createCard, postBuckets, PRICES, putBudget } from '../factories/budgets.js'

// A budget's status at a past instant (`GET /v1/budgets/{name}?at=`, GraphQL `budgets(at:)`) chose the
// period containing `at` but summed the whole period's spend, so usage after `at` was counted — and the
// forecast, which divides by the time elapsed up to `at`, was inflated by it. The dashboard shows a past
// range's budgets this way, as they stood at its end.

const Precise = Decimal.clone({ precision: 60 })
const cost = (input: number) => new Decimal(input).times(PRICES.input).times('0.000001')
const EARLY = new Date('2026-03-02T10:00:00Z')
const LATE = new Date('2026-03-20T10:00:00Z')

interface Status { period_start: string; period_end: string; spent: string; forecast: string; percent_used: string }

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine, { BUDGET_EVALUATION_INTERVAL_MS: 'off' })
  const { tenantId, key } = await tenantWithKey(app)
  const card = await createCard(app, tenantId, `card-${tenantId}`)
  // $100 a month with no thresholds reached: only the computed spend is asserted.
  await putBudget(app, key, 'monthly', { amount: '100', period: 'month', rate_card: card, thresholds: [1000] })
  await postBuckets(app, key, [bucket(EARLY, 10), bucket(LATE, 1)])

  const rest = async (at: string) => {
    const res = await app.inject({ method: 'GET', url: `/v1/budgets/monthly?at=${encodeURIComponent(at)}`, headers: bearer(key) })
    t.equal(res.statusCode, 200, res.body)
    return res.json() as Status
  }
  const graphql = async (at: string) => {
    const query = 'query($at: DateTime) { budgets(at: $at) { name spent forecast percentUsed periodStart } }'
    const res = await app.inject({ method: 'POST', url: '/graphql', headers: bearer(key), payload: { query, variables: { at } } })
    const body = res.json() as { data: { budgets: { spent: string; forecast: string; percentUsed: string; periodStart: string }[] }; errors?: unknown }
    t.equal(body.errors, undefined)
    return body.data.budgets[0]!
  }

  t.test('a past instant counts the spend up to it, not the rest of its period', async (t) => {
    const at = '2026-03-10T00:00:00Z'
    const spent = cost(10)
    // 31 days of March over the 9 elapsed by the 10th, rounded half-even to 12 places.
    const forecast = new Precise(spent).times(31).dividedBy(9).toDecimalPlaces(12, Decimal.ROUND_HALF_EVEN).toFixed()
    t.match(await rest(at), { period_start: '2026-03-01T00:00:00.000Z', spent: spent.toFixed(), forecast, percent_used: spent.toFixed() })
    t.match(await graphql(at), { periodStart: '2026-03-01T00:00:00.000Z', spent: spent.toFixed(), forecast, percentUsed: spent.toFixed() }, 'GraphQL budgets(at:) too')
  })

  t.test('a row that starts at the instant counts; one a millisecond later does not', async (t) => {
    t.equal((await rest('2026-03-20T09:59:59.999Z')).spent, cost(10).toFixed())
    t.equal((await rest('2026-03-20T10:00:00Z')).spent, cost(11).toFixed())
    t.equal((await graphql('2026-03-20T09:59:59.999Z')).spent, cost(10).toFixed())
  })

  t.test('the period’s last millisecond shows all of its spend', async (t) => {
    const month = 31 * 86_400_000
    const forecast = new Precise(cost(11)).times(month).dividedBy(month - 1).toDecimalPlaces(12, Decimal.ROUND_HALF_EVEN).toFixed()
    t.match(await rest('2026-03-31T23:59:59.999Z'), { spent: cost(11).toFixed(), forecast, period_end: '2026-04-01T00:00:00.000Z' })
  })
})
