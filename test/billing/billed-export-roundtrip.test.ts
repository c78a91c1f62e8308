import { readFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { parse } from 'csv-parse/sync'
import t from 'tap'
import type { BilledStored } from '../factories/billed-stored.js'
import { bearer, build, eachEngine, fixturePath, tenantWithKey } from '../helpers.js'

// The billed costs' CSV export (GET /v1/organization/costs?cost_source=billed, Accept: text/csv) posted
// back to POST /v1/billing/costs stores the same costs, over a real socket: organization_id is the
// provider account each row was billed to (empty when unknown, never the tenant), rows of two accounts
// are not summed into one, and quantities stay exact. Anthropic costs come back as Anthropic's: the export's
// trailing columns carry provider, model, token type, tiers and context tier, which OpenAI's columns cannot
// (before, they came back as OpenAI costs with no model or token type, and two costs differing only in
// those were summed into one).

const DAY = 86_400
const D0 = 1759622400 // 2025-10-05, the first day of the sample cost export
const D20 = D0 + 20 * DAY

/** A stored billed cost with the columns an export carries beside the key (`BilledStored`). */
type Stored = BilledStored & { currency: string; quantity: string | null; quantity_unit: string | null }

const costsPage = (start: number, results: Record<string, unknown>[]) => ({
  object: 'page',
  data: [{ object: 'bucket', start_time: start, end_time: start + DAY, results: results.map((r) => ({ object: 'organization.costs.result', ...r })) }],
  has_more: false,
  next_page: null,
})
const usd = (value: string | number) => ({ value, currency: 'usd' })

void eachEngine(t, async (t, engine) => {
  const path = fixturePath(t, 'openai/openai_costs_export_2025-10.sample.csv')
  if (!path) return
  const app = await build(t, engine)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  const source = await tenantWithKey(app, ['ingest', 'read'])
  const target = await tenantWithKey(app, ['ingest', 'read'])

  const post = async (key: string, body: string, type: string, query = '') => {
    const res = await fetch(`${base}/v1/billing/costs${query}`, { method: 'POST', headers: { ...bearer(key), 'content-type': type }, body })
    t.equal(res.status, 200, `POST /v1/billing/costs${query}: ${res.status}`)
    return res.json()
  }
  const exportCsv = async (key: string) => {
    const res = await fetch(`${base}/v1/organization/costs?start_time=${D0}&end_time=${D20 + DAY}&cost_source=billed&group_by=line_item,project_id,api_key_id`, {
      headers: { ...bearer(key), accept: 'text/csv' },
    })
    t.equal(res.status, 200)
    t.match(res.headers.get('content-type'), /^text\/csv/)
    return res.text()
  }
  const stored = (tenantId: string) =>
    app.testDb.query<Stored>(
      `select provider, account_id, start_time, end_time, project_id, api_key_id, line_item, model, token_type, cost_type, service_tier, batch,
              context_tier, inference_geo, key_hash, amount::text as amount, currency, quantity::text as quantity, quantity_unit
       from billed_costs where tenant_id = $1
       order by start_time, account_id nulls first, line_item nulls first, project_id nulls first, api_key_id nulls first, batch nulls first, amount`,
      [tenantId],
    )

  // The sample export (one account, days without line items) and Costs API pages: the same day and line item
  // billed to two accounts, one without an account, projects and keys, a quantity past a double's precision.
  await post(source.key, readFileSync(path, 'utf8'), 'text/csv')
  const item = { line_item: 'gpt-5-mini-2025-08-07, input', project_id: 'proj_1', api_key_id: 'key_1', quantity_unit: 'tokens' }
  await post(source.key, JSON.stringify(costsPage(D20, [
    { ...item, amount: usd('0.020248'), quantity: 80992 },
    { ...item, line_item: 'gpt-5-mini-2025-08-07, output', amount: usd('0.54954'), quantity: '12345678901234567.5' },
  ])), 'application/json', '?account_id=org-2')
  await post(source.key, JSON.stringify(costsPage(D20, [{ ...item, amount: usd('0.000000000000000000123'), quantity: 7 }])), 'application/json', '?account_id=org-3')
  await post(source.key, JSON.stringify(costsPage(D20, [{ ...item, project_id: null, api_key_id: null, amount: usd(1.5), quantity: 3 }])), 'application/json')
  // Anthropic's cost report: two costs with one description, apart only by the batch tier; a web search cost.
  const claude = { currency: 'USD', description: 'Claude Opus 5 Usage - Input Tokens', model: 'claude-opus-5', cost_type: 'tokens', token_type: 'uncached_input_tokens', context_window: '0-200k', inference_geo: 'global', workspace_id: 'wrkspc_1' }
  await post(source.key, JSON.stringify({ data: [{ starting_at: new Date(D20 * 1000).toISOString(), ending_at: new Date((D20 + DAY) * 1000).toISOString(), results: [
    { ...claude, amount: '123.78912', service_tier: 'standard' },
    { ...claude, amount: '50.5', service_tier: 'batch' },
    { ...claude, amount: '125', description: 'Web Search', cost_type: 'web_search', token_type: null, context_window: null, service_tier: null },
  ] }], has_more: false, next_page: null }), 'application/json', '?account_id=org-ant')
  const original = await stored(source.tenantId)
  t.equal(original.length, 13)
  t.same(original.filter((r) => r.provider === 'anthropic').map((r) => [r.token_type, r.batch, r.amount]),
    [['uncached_input_tokens', false, '1.2378912'], ['uncached_input_tokens', true, '0.505'], [null, null, '1.25']], 'the source holds the Anthropic costs')

  const csv = await exportCsv(source.key)
  const [header, ...rows] = parse(csv) as string[][]
  const col = (row: string[], name: string) => row[header!.indexOf(name)]
  t.same(
    rows.map((r) => col(r, 'organization_id')),
    [...Array<string>(6).fill('org-Hp9mSGev2sVmtMeF2wrnSeOV'), 'org-2', 'org-2', 'org-3', 'org-ant', 'org-ant', 'org-ant', ''],
    'organization_id is the account each row was billed to, empty when unknown',
  )
  t.notOk(rows.some((r) => col(r, 'organization_id') === source.tenantId || col(r, 'organization_name') === source.tenantId), 'the tenant is not written as the organization')
  t.ok(rows.some((r) => col(r, 'quantity') === '12345678901234567.5'), 'quantities are exact')

  t.same(await post(target.key, csv, 'text/csv'), { received: 13, skipped: 0, created: 13, replaced: 0, unchanged: 0 })
  t.same(await stored(target.tenantId), original, 'the re-imported export stores the same costs (provider, account, every key field, amounts, quantities) under the same keys')
  t.equal(await exportCsv(target.key), csv, 'and exports the same CSV')
  t.same(await post(target.key, csv, 'text/csv'), { received: 13, skipped: 0, created: 0, replaced: 0, unchanged: 13 }, 'posting it again changes nothing')
})
