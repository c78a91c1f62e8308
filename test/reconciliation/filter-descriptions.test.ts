import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

/**
 * What the served documents say of each reconciliation filter holds: a filter described as applying to
 * "usage only" leaves the billed side whole, and one the documents list among the billed side's filters
 * narrows it. The tier, batch, context-tier and geo filters were made to narrow billed costs too
 * (billed-filters.test.ts), but `GET /v1/reconciliation` still described `service_tiers`, `context_tiers`,
 * `inference_geos` and `batch` as "(usage only)", and the SDL's `filter` listed only providers, accounts,
 * projects, API keys and models as the billed side's filters.
 */

const D0 = '2025-10-07T00:00:00Z'
const D1 = '2025-10-08T00:00:00Z'

/** A value of each parameter that no stored cost has. */
const NO_MATCH: Record<string, string> = { modalities: 'audio', sources: 'events', batch: 'true' }

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key } = await tenantWithKey(app, ['ingest', 'read'])
  const day = (s: string) => Date.parse(s) / 1000
  const bill = {
    object: 'page',
    data: [{ object: 'bucket', start_time: day(D0), end_time: day(D1), results: [{ object: 'organization.costs.result', amount: { value: '1', currency: 'usd' }, line_item: 'gpt-5, input', project_id: null }] }],
  }
  const stored = await app.inject({ method: 'POST', url: '/v1/billing/costs?account_id=org-1', headers: bearer(key), payload: bill })
  t.equal(stored.statusCode, 200, stored.body)

  const billed = async (param: string) => {
    const res = await app.inject({ method: 'GET', url: `/v1/reconciliation?from=${D0}&to=${D1}&${param}=${NO_MATCH[param] ?? 'no-such-value'}`, headers: bearer(key) })
    t.equal(res.statusCode, 200, `${param}: ${res.body}`)
    return (res.json() as { totals: { billed: string } }).totals.billed
  }

  const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json() as {
    paths: Record<string, { get: { parameters: { name: string; description?: string }[] } }>
  }
  const params = doc.paths['/v1/reconciliation']!.get.parameters
  const usageOnly = params.filter((p) => /\(usage only\)/.test(p.description ?? '')).map((p) => p.name)
  t.ok(usageOnly.includes('user_ids'), 'some filters are described as usage only')
  for (const name of usageOnly) t.equal(await billed(name), '1', `${name} is described as usage only: the bill stays whole`)

  const sdl = await app.inject({
    method: 'POST',
    url: '/graphql',
    headers: bearer(key),
    payload: { query: '{ __type(name: "Query") { fields { name args { name description } } } }' },
  })
  const fields = (sdl.json() as { data: { __type: { fields: { name: string; args: { name: string; description: string | null }[] }[] } } }).data.__type.fields
  const filterDoc = fields.find((f) => f.name === 'reconciliation')!.args.find((a) => a.name === 'filter')!.description ?? ''
  const billedFilters = /billed costs are filtered by ([^.]*)/.exec(filterDoc)?.[1] ?? ''
  for (const [field, param] of [['serviceTiers', 'service_tiers'], ['contextTiers', 'context_tiers'], ['inferenceGeos', 'inference_geos'], ['batch', 'batch']] as const) {
    t.equal(await billed(param), '0', `${param} narrows the bill`)
    t.match(billedFilters, new RegExp(`\\b${field}\\b`), `the SDL lists ${field} among the billed side's filters`)
  }
})
