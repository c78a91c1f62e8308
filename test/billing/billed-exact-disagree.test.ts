import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

// A costs page carrying `amount.value_exact` / `quantity_exact` (the ledger's own pages) is read from the
// exact text; the JSON number beside it is that text rounded. Where the two disagree, one of them was
// edited and the other not: the exact text alone was read, so a page whose `value` had been corrected
// stored the old amount with a 200. Now a 400 names both, nothing written; agreeing pairs, however many
// digits the exact text has beyond the double's, are read as before.

const D = 1759276800
const page = (results: unknown[]) => ({ object: 'page', data: [{ object: 'bucket', start_time: D, end_time: D + 86_400, results }] })
const result = (amount: Record<string, unknown>, quantity: Record<string, unknown> = {}) => ({
  object: 'organization.costs.result',
  amount: { currency: 'usd', ...amount },
  line_item: 'gpt-4o, input',
  project_id: null,
  quantity_unit: 'tokens',
  ...quantity,
})

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key } = await tenantWithKey(app, ['ingest', 'read'])
  const post = (body: unknown) => app.inject({ method: 'POST', url: '/v1/billing/costs?account_id=org-1', headers: bearer(key), payload: body as object })
  const stored = () => app.testDb.query<{ amount: string; quantity: string | null }>('select amount::text as amount, quantity::text as quantity from billed_costs order by id')

  const edited = await post(page([result({ value: 5, value_exact: '1.25' }, { quantity: 1000, quantity_exact: '1000' }), result({ value: 2, value_exact: '2' }, { quantity: 10, quantity_exact: '1000', line_item: 'gpt-4o, output' })]))
  t.equal(edited.statusCode, 400, edited.body)
  t.match(edited.json(), {
    errors: [
      { index: 0, path: 'data.0.results.0.amount.value_exact', message: /value_exact \(1\.25\) and .*amount\.value \(5\) are different amounts/ },
      { index: 1, path: 'data.0.results.1.quantity_exact', message: /quantity_exact \(1000\) and .*quantity \(10\) are different amounts/ },
    ],
    error_count: 2,
  })
  t.same(await stored(), [], 'nothing written')

  const exact = '0.123456789012345678901'
  const agreeing = await post(page([result({ value: Number(exact), value_exact: exact }, { quantity: Number('12345678901234567890'), quantity_exact: '12345678901234567890' }), result({ value: 0.5 }, { quantity: 3, line_item: 'gpt-4o, output' })]))
  t.equal(agreeing.statusCode, 200, agreeing.body)
  t.same(await stored(), [{ amount: exact, quantity: '12345678901234567890' }, { amount: '0.5', quantity: '3' }], 'the exact text where given, the number otherwise')
})
