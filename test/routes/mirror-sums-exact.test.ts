import { Decimal } from 'decimal.js'
import t from 'tap'
import { createTestCard } from '../factories/resources.js'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

/**
 * The REST mirrors sum a window's rows in JavaScript (a resource endpoint's rows of one group; without
 * line items, a project's token and resource costs). Those sums used decimal.js's default precision, 20
 * significant digits, so a cost with finely priced units was answered rounded: `value_exact` was not the
 * sum GraphQL and the database give. The expected values here are exact decimal arithmetic on the inputs.
 */
const DAY = 86_400
const T0 = 1_759_276_800 // 2025-10-01
const PRICE = '0.001234567890123456789012345' // per call
const INPUT = '1.234567890123456789012345' // per 1M input tokens
const Q1 = '9007199254740991'
const Q2 = '9007199254740989'
const Oracle = Decimal.clone({ precision: 1000 })

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { tenantId, key } = await tenantWithKey(app, ['ingest', 'read'])
  const h = bearer(key)
  await createTestCard(app, tenantId, 'fine', [{ provider: 'openai', model: '*', prices: { input: INPUT, output: '0' }, unit_prices: [{ resource: 'file_search_calls', price: PRICE }] }])
  const base = { start_time: T0, end_time: T0 + DAY, provider: 'openai', account_id: 'acct', project_id: 'proj', model: null }
  const posted = await app.inject({
    method: 'POST', url: '/v1/usage/buckets', headers: h,
    payload: {
      buckets: [{ ...base, model: 'gpt-4o', input_tokens: Number(Q1), output_tokens: 0, num_model_requests: 1 }],
      resources: [
        { ...base, resource: 'file_search_calls', quantity: Q1, attributes: { vector_store_id: 'vs_1' } },
        { ...base, resource: 'file_search_calls', quantity: Q2, attributes: { vector_store_id: 'vs_2' } },
      ],
    },
  })
  t.equal(posted.statusCode, 200, posted.body)
  const resources = new Oracle(Q1).plus(Q2).times(PRICE)
  const tokens = new Oracle(Q1).times(INPUT).div(1_000_000)
  t.ok(resources.sd() > 20 && tokens.plus(resources).sd() > 20, 'the sums need more than 20 significant digits')

  const range = `start_time=${String(T0)}&end_time=${String(T0 + DAY)}&rate_card=fine`
  const calls = await app.inject({ method: 'GET', url: `/v1/organization/usage/file_search_calls?${range}`, headers: h })
  t.equal(calls.statusCode, 200, calls.body)
  const [call] = (calls.json() as { data: { results: { num_requests: number; cost: { value_exact: string } }[] }[] }).data[0]!.results
  t.equal(call!.cost.value_exact, resources.toFixed(), 'file_search_calls: the two vector stores summed exactly')

  const costs = await app.inject({ method: 'GET', url: `/v1/organization/costs?${range}&group_by=project_id`, headers: h })
  t.equal(costs.statusCode, 200, costs.body)
  const [cost] = (costs.json() as { data: { results: { amount: { value_exact: string } }[] }[] }).data[0]!.results
  t.equal(cost!.amount.value_exact, tokens.plus(resources).toFixed(), 'costs by project: tokens and resources summed exactly')
})
