import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

/**
 * POST /v1/billing/costs takes OpenAI Costs API pages, and the ledger's own costs mirror answers pages of
 * that shape (cost_source=billed or computed). Their `amount.value` and `quantity` are JSON numbers for
 * clients typed for OpenAI — exact only to 17 significant digits — with the exact decimals beside them in
 * `value_exact` and `quantity_exact`. A page of the ledger's posted back (to another tenant, or to the same
 * one) must store what it says exactly: money is exact from storage to the wire and back.
 */

const DAY = 86_400
const D0 = 1_759_622_400 // 2025-10-05
const AMOUNT = '1.23789123456789123456' // 21 significant digits, as Anthropic cents ÷ 100 can give
const QUANTITY = '12345678901234567.5'

interface Result { line_item: string | null; amount: { value: number | null; value_exact: string | null }; quantity: number | null; quantity_exact: string | null }
interface Page { data: { start_time: number; results: Result[] }[] }

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const a = bearer((await tenantWithKey(app, ['ingest', 'read'])).key)
  const b = bearer((await tenantWithKey(app, ['ingest', 'read'])).key)
  const stored = await app.inject({
    method: 'POST',
    url: '/v1/billing/costs?account_id=org-1',
    headers: a,
    payload: { data: [{ start_time: D0, end_time: D0 + DAY, results: [
      { amount: { value: AMOUNT, currency: 'usd' }, line_item: 'gpt-5-mini-2025-08-07, input', quantity: QUANTITY, quantity_unit: 'tokens' },
    ] }] },
  })
  t.equal(stored.statusCode, 200, stored.body)

  const billed = async (h: Record<string, string>) => {
    const res = await app.inject({ method: 'GET', url: `/v1/organization/costs?start_time=${D0}&end_time=${D0 + DAY}&cost_source=billed&group_by=line_item`, headers: h })
    t.equal(res.statusCode, 200, res.body)
    return res.json() as Page
  }
  const page = await billed(a)
  const [result] = page.data[0]!.results
  t.equal(result?.amount.value_exact, AMOUNT, 'the page carries the exact amount')
  t.equal(result?.quantity_exact, QUANTITY, 'and the exact quantity')

  const posted = await app.inject({ method: 'POST', url: '/v1/billing/costs?account_id=org-1', headers: b, payload: page })
  t.equal(posted.statusCode, 200, posted.body)
  const [copy] = (await billed(b)).data[0]!.results
  t.equal(copy?.amount.value_exact, AMOUNT, 'posted back, the amount is stored exactly (value_exact, not the rounded value)')
  t.equal(copy?.quantity_exact, QUANTITY, 'and the quantity (quantity_exact, not the rounded quantity)')

  const again = await app.inject({ method: 'POST', url: '/v1/billing/costs?account_id=org-1', headers: a, payload: page })
  t.same(again.json(), { received: 1, skipped: 0, created: 0, replaced: 0, unchanged: 1 }, 'posted to its own tenant, the page changes nothing')
})
