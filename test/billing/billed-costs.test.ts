import { readFileSync } from 'node:fs'
import t from 'tap'
import { bearer, build, eachEngine, fixturePath, isProblem, tenantWithKey } from '../helpers.js'

/** POST /v1/billing/costs: the three report formats, exact amounts, replace, all-or-nothing, overlap, delete. */

interface Stored {
  provider: string
  account_id: string | null
  start_time: Date
  line_item: string | null
  model: string | null
  token_type: string | null
  amount: string
  quantity: string | null
  source: string
}

const DAY = 86_400
const D0 = 1759795200 // 2025-10-07

const page = (start: number, results: unknown[]) => ({
  object: 'page',
  data: [{ object: 'bucket', start_time: start, end_time: start + DAY, results }],
  has_more: false,
  next_page: null,
})
const result = (value: unknown, lineItem: string | null, extra: Record<string, unknown> = {}) => ({
  object: 'organization.costs.result',
  amount: { value, currency: 'usd' },
  line_item: lineItem,
  project_id: null,
  ...extra,
})

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { tenantId, key } = await tenantWithKey(app, ['ingest', 'read'])
  const post = (payload: unknown, query = '', type = 'application/json') =>
    app.inject({ method: 'POST', url: `/v1/billing/costs${query}`, headers: { ...bearer(key), 'content-type': type }, payload: typeof payload === 'string' || Buffer.isBuffer(payload) ? payload : JSON.stringify(payload) })
  const stored = () =>
    app.testDb.query<Stored>(
      `select provider, account_id, start_time, line_item, model, token_type, amount::text as amount, quantity::text as quantity, source
       from billed_costs where tenant_id = $1 order by provider, account_id, start_time, line_item`,
      [tenantId],
    )
  const clear = () => app.testDb.query('delete from billed_costs where tenant_id = $1', [tenantId])

  await t.test('the OpenAI cost export CSV: long decimals exact, empty amounts skipped, organization_id → account', async (t) => {
    const path = fixturePath(t, 'openai/openai_costs_export_2025-10.sample.csv')
    if (!path) return
    const res = await post(readFileSync(path, 'utf8'), '', 'text/csv')
    t.equal(res.statusCode, 200, res.body)
    t.same(res.json(), { received: 8, skipped: 2, created: 6, replaced: 0, unchanged: 0 })
    const rows = await stored()
    t.same(rows.map((r) => r.amount), ['0.895874', '0.56177125', '0.569788', '0.5455665', '0.3409', '0.072054'])
    t.ok(rows.every((r) => r.account_id === 'org-Hp9mSGev2sVmtMeF2wrnSeOV' && r.source === 'openai_csv' && r.line_item === null))
    const again = await post(readFileSync(path, 'utf8'), '', 'text/csv')
    t.same(again.json(), { received: 8, skipped: 2, created: 0, replaced: 0, unchanged: 6 })
    const other = await post(readFileSync(path, 'utf8'), '?account_id=org-other', 'text/csv')
    t.same(other.json(), { received: 8, skipped: 2, created: 6, replaced: 0, unchanged: 0 })
    t.equal((await stored()).filter((r) => r.account_id === 'org-other').length, 6)
    await clear()
  })

  await t.test('OpenAI costs pages: numbers as their shortest round-trip decimal, model from a known line item, quantity kept', async (t) => {
    const path = fixturePath(t, 'openai/openai_costs_example.json')
    if (!path) return
    const example = await post(JSON.parse(readFileSync(path, 'utf8')), '?account_id=acct')
    t.same(example.json(), { received: 1, skipped: 0, created: 1, replaced: 0, unchanged: 0 })
    t.same((await stored()).map((r) => [r.amount, r.line_item, r.model]), [['0.06', null, null]])
    await clear()
    const res = await post(
      page(D0, [
        result(0.1 + 0.2, 'gpt-5-mini-2025-08-07, input', { quantity: 80992, quantity_unit: 'tokens' }),
        result(1e-7, 'gpt-5-mini-2025-08-07, cached input, flex'),
        result('0.54954', 'gpt-5-mini-2025-08-07, output, batch'),
        result(0.06, 'input_tokens'),
        result(0.5, 'gpt-4o, fine-tuning training'),
        result(null, 'gpt-4o, input'),
      ]),
      '?account_id=acct',
    )
    t.same(res.json(), { received: 6, skipped: 1, created: 5, replaced: 0, unchanged: 0 })
    const rows = await stored()
    t.same(
      rows.map((r) => [r.line_item, r.model, r.amount, r.quantity]),
      [
        ['gpt-4o, fine-tuning training', null, '0.5', null],
        ['gpt-5-mini-2025-08-07, cached input, flex', 'gpt-5-mini-2025-08-07', '0.0000001', null],
        ['gpt-5-mini-2025-08-07, input', 'gpt-5-mini-2025-08-07', '0.30000000000000004', '80992'],
        ['gpt-5-mini-2025-08-07, output, batch', 'gpt-5-mini-2025-08-07', '0.54954', null],
        ['input_tokens', null, '0.06', null],
      ],
    )
    const replaced = await post(page(D0, [result('0.3', 'gpt-5-mini-2025-08-07, input', { quantity: 80992, quantity_unit: 'tokens' })]), '?account_id=acct&group_by=line_item')
    t.equal(replaced.statusCode, 200, replaced.body)
    t.same(replaced.json(), { received: 1, skipped: 0, created: 0, replaced: 1, unchanged: 0 })
    await clear()
  })

  await t.test('Anthropic cost_report: cents ÷ 100 exactly, workspace → project, token type kept', async (t) => {
    const path = fixturePath(t, 'anthropic/anthropic_cost_report_example.json')
    if (!path) return
    const res = await post(JSON.parse(readFileSync(path, 'utf8')), '?account_id=org-a')
    t.same(res.json(), { received: 1, skipped: 0, created: 1, replaced: 0, unchanged: 0 })
    const [row] = await stored()
    t.match(row, { provider: 'anthropic', account_id: 'org-a', amount: '1.2378912', model: 'claude-opus-5', token_type: 'uncached_input_tokens', source: 'anthropic_api' })
    await clear()
  })

  await t.test('bad input: 400 naming every problem, nothing written', async (t) => {
    const res = await post({
      data: [
        { start_time: D0, end_time: D0 - 1, results: [result('abc', 'x'), result(0.1, 'y', { quantity: -3 })] },
        { start_time: '2025-02-30T00:00:00Z', end_time: D0, results: [{ ...result(1, 'z'), amount: { value: 1, currency: 'eur' } }, 'nope'] },
      ],
    })
    t.equal(res.statusCode, 400)
    t.ok(isProblem(res))
    const errors = (res.json() as { errors: { index?: number; path: string }[] }).errors
    t.same(
      errors.map((e) => [e.index, e.path]),
      [[0, 'data.0.results.0.amount.value'], [0, 'end_time'], [1, 'data.0.results.1.quantity'], [1, 'end_time'], [2, 'data.1.start_time'], [2, 'data.1.results.0.amount.currency'], [3, 'data.1.results.1']].map(([i, p]) => [i, p]),
      JSON.stringify(errors),
    )
    const csv = await post('start_time,end_time,amount_value\n1759795200,1759881600,1.5x\n1759795200,,2\n', '', 'text/csv')
    t.equal(csv.statusCode, 400)
    t.same((csv.json() as { errors: { line: number; path: string }[] }).errors.map((e) => [e.line, e.path]), [[2, 'amount_value'], [3, 'end_time_iso']])
    const disagree = await post('start_time,end_time,start_time_iso,end_time_iso,amount_value\n1759795200,1759881600,2025-10-08T00:00:00Z,2025-10-08T00:00:00Z,1\n', '', 'text/csv')
    t.equal(disagree.statusCode, 400, 'a start_time and a start_time_iso of different days are refused, not one chosen')
    t.same((disagree.json() as { errors: { line: number; path: string }[] }).errors.map((e) => [e.line, e.path]), [[2, 'start_time']])
    const latin1 = await post(Buffer.concat([Buffer.from('start_time,end_time,amount_value,line_item\n1759795200,1759881600,1,caf'), Buffer.from([0xe9]), Buffer.from('\n')]), '', 'text/csv')
    t.match(latin1.json(), { status: 400, errors: [{ line: 2, message: 'is not valid UTF-8' }] })
    t.same(await stored(), [])
    const declared = await post(page(D0, [result('1', 'gpt-5, input')]), '?account_id=acct&group_by=line_item,project_id')
    t.equal(declared.statusCode, 200, 'a declared shape is stored with the rows')
    const undeclared = await post(page(D0, [result('1', 'gpt-5, input')]), '?account_id=acct')
    t.equal(undeclared.statusCode, 409, 'the same rows without the declared project grouping are another shape')
    await clear()
  })

  await t.test('the same bucket in two pages, its times written differently → 400, not summed', async (t) => {
    const again = { ...page(D0, [result('0.5', null)]), data: [{ object: 'bucket', start_time: '2025-10-07T00:00:00Z', end_time: '2025-10-08T00:00:00.000Z', results: [result('0.5', null)] }] }
    const res = await post([page(D0, [result('0.5', null)]), again])
    t.equal(res.statusCode, 400, res.body)
    t.match(res.json(), { errors: [{ index: 1, path: '1.data.0', message: /appears twice/ }] })
    t.same(await stored(), [])
  })

  await t.test('a different report shape overlapping stored costs → 409 naming the stored row; DELETE clears the range', async (t) => {
    t.equal((await post(page(D0, [result('1', null)]), '?account_id=acct')).statusCode, 200)
    const res = await post(page(D0, [result('0.6', 'gpt-5, input'), result('0.4', 'gpt-5, output')]), '?account_id=acct')
    t.equal(res.statusCode, 409, res.body)
    t.match(res.json(), { detail: /overlaps stored cost \d+/ })
    const week = await post({ data: [{ start_time: D0 - 3 * DAY, end_time: D0 + 4 * DAY, results: [result('7', null)] }] }, '?account_id=acct')
    t.equal(week.statusCode, 409)
    const within = await post({ data: [{ start_time: D0, end_time: D0 + DAY, results: [result('1', null)] }, { start_time: D0, end_time: D0 + 2 * DAY, results: [result('1', null)] }] }, '?account_id=b')
    t.equal(within.statusCode, 409)
    const del = await app.inject({ method: 'DELETE', url: `/v1/billing/costs?start_time=${D0}&end_time=${D0 + DAY}&account_id=acct`, headers: bearer(key) })
    t.same(del.json(), { deleted: 1 })
    t.equal((await post(page(D0, [result('0.6', 'gpt-5, input'), result('0.4', 'gpt-5, output')]), '?account_id=acct')).statusCode, 200)
    t.equal((await stored()).length, 2)
    await clear()
  })

  await t.test('concurrent imports of two shapes for one account: one is stored, the other is a 409', async (t) => {
    for (let round = 0; round < 5; round++) {
      const start = D0 + round * DAY
      const [a, b] = await Promise.all([
        post(page(start, [result('1', null)]), '?account_id=race'),
        post(page(start, [result('0.6', 'gpt-5, input'), result('0.4', 'gpt-5, output')]), '?account_id=race'),
      ])
      t.same([a.statusCode, b.statusCode].sort(), [200, 409], `round ${round}`)
      const shapes = new Set((await stored()).filter((r) => r.start_time.getTime() === start * 1000).map((r) => r.line_item === null))
      t.equal(shapes.size, 1, 'one shape stored')
    }
    await clear()
  })
})
