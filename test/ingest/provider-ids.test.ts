import type { LightMyRequestResponse } from 'fastify'
import t from 'tap'
import { admin, bearer, build, eachEngine, isProblem, tenantWithKey, uniqueId } from '../helpers.js'

/**
 * One table of provider spellings, fed to every entry point that takes a provider: an id is stored folded
 * to lower case (`OpenAI` → `openai`), so every spelling of one provider is one natural key, one rate and
 * one filter value; anything else is refused as a 4xx naming the field (events: that event rejected) and
 * nothing is written. Then the consequences: a re-upload under another spelling replaces instead of
 * counting twice, a capitalised provider is priced, and filters match whatever the case.
 */
const SPELLINGS: [string, string | 'refused'][] = [
  ['openai', 'openai'],
  ['OpenAI', 'openai'],
  ['OPENAI', 'openai'],
  ['Anthropic', 'anthropic'],
  ['Azure.OpenAI_eu-1', 'azure.openai_eu-1'],
  ['x'.repeat(63), 'x'.repeat(63)],
  ['x'.repeat(64), 'refused'],
  ['Open AI', 'refused'],
  ['-openai', 'refused'],
  ['openaï', 'refused'],
  ['İopenai', 'refused'],
  ['', 'refused'],
]

const S = 1_767_225_600 // 2026-01-01T00:00:00Z
const E = S + 86_400
const ISO_S = new Date(S * 1000).toISOString()
const ISO_E = new Date(E * 1000).toISOString()
const q = encodeURIComponent

type Probe = (provider: string, account: string) => Promise<LightMyRequestResponse>

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key, tenantId } = await tenantWithKey(app, ['ingest', 'read'])
  const h = bearer(key)
  const post = (url: string, payload: unknown, type = 'application/json') =>
    app.inject({ method: 'POST', url, headers: { ...h, 'content-type': type }, payload: typeof payload === 'string' ? payload : JSON.stringify(payload) })
  const page = (result: Record<string, unknown>) => ({ object: 'page', data: [{ object: 'bucket', start_time: S, end_time: E, results: [result] }] })
  const completions = { object: 'organization.usage.completions.result', model: 'gpt-5', input_tokens: 10, output_tokens: 2 }

  // Each entry point writes one row of a fresh account; `table` is where it lands.
  // `empty`: what an empty provider becomes where it is not refused (a CSV's empty cell is an absent value).
  const entryPoints: Record<string, { table: string; field: string; probe: Probe; empty?: string }> = {
    'canonical bucket': {
      table: 'usage_buckets', field: 'provider',
      probe: (p, a) => post('/v1/usage/buckets', { buckets: [{ start_time: ISO_S, end_time: ISO_E, model: 'gpt-5', provider: p, account_id: a, input_tokens: 1 }] }),
    },
    'canonical resource': {
      table: 'usage_resources', field: 'provider',
      probe: (p, a) => post('/v1/usage/buckets', { buckets: [], resources: [{ start_time: ISO_S, end_time: ISO_E, model: 'gpt-image-1', provider: p, account_id: a, resource: 'images', quantity: '2' }] }),
    },
    'OpenAI page, ?provider=': { table: 'usage_buckets', field: 'querystring.provider', probe: (p, a) => post(`/v1/usage/buckets?provider=${q(p)}&account_id=${a}`, page(completions)) },
    'OpenAI page, the result’s own provider': { table: 'usage_buckets', field: 'provider', probe: (p, a) => post(`/v1/usage/buckets?account_id=${a}`, page({ ...completions, provider: p })) },
    'usage CSV, provider column': {
      table: 'usage_buckets', field: 'provider', empty: 'openai',
      probe: (p, a) => post(`/v1/usage/buckets?account_id=${a}`, `start_time,end_time,provider,model,input_tokens\n${S},${E},"${p}",gpt-5,1\n`, 'text/csv'),
    },
    'usage CSV, ?provider=': {
      table: 'usage_buckets', field: 'querystring.provider',
      probe: (p, a) => post(`/v1/usage/buckets?provider=${q(p)}&account_id=${a}`, `start_time,end_time,model,input_tokens\n${S},${E},gpt-5,1\n`, 'text/csv'),
    },
    'Anthropic usage report, ?provider=': {
      table: 'usage_buckets', field: 'querystring.provider',
      probe: (p, a) => post(`/v1/usage/buckets?provider=${q(p)}&account_id=${a}`, { data: [{ starting_at: ISO_S, ending_at: ISO_E, results: [{ model: 'claude-sonnet-4-20250514', uncached_input_tokens: 10, output_tokens: 4 }] }] }),
    },
    'billed costs page, ?provider=': {
      table: 'billed_costs', field: 'querystring.provider',
      probe: (p, a) => post(`/v1/billing/costs?provider=${q(p)}&account_id=${a}`, page({ object: 'organization.costs.result', amount: { value: '1.25', currency: 'usd' }, line_item: 'gpt-5, input', project_id: null })),
    },
    'billed costs CSV, ?provider=': {
      table: 'billed_costs', field: 'querystring.provider',
      probe: (p, a) => post(`/v1/billing/costs?provider=${q(p)}&account_id=${a}`, `start_time,end_time,line_item,amount_value\n${S},${E},"gpt-5, input",1.25\n`, 'text/csv'),
    },
    event: {
      table: 'usage_events', field: 'provider',
      probe: (p, a) => post('/v1/usage/events', { events: [{ id: uniqueId('e'), timestamp: ISO_S, provider: p, account_id: a, model: 'gpt-5', input_tokens: 1 }] }),
    },
  }

  const stored = async (table: string, account: string) =>
    (await app.testDb.query<{ provider: string }>(`select provider from ${table} where tenant_id = $1 and account_id = $2`, [tenantId, account])).map((r) => r.provider)

  for (const [name, ep] of Object.entries(entryPoints)) {
    for (const [spelling, listed] of SPELLINGS) {
      const expected = spelling === '' && ep.empty ? ep.empty : listed
      const account = uniqueId('acct')
      const res = await ep.probe(spelling, account)
      const label = `${name}: ${JSON.stringify(spelling.length > 20 ? `${spelling.slice(0, 8)}… (${spelling.length})` : spelling)}`
      if (expected === 'refused') {
        if (ep.table === 'usage_events') {
          const r = (res.json() as { results?: { status: string; errors?: { path: string }[] }[] }).results?.[0]
          t.ok(r?.status === 'rejected' && r.errors?.some((e) => e.path === 'provider'), `${label} → the event is rejected naming provider`, { got: res.body.slice(0, 300) })
        } else {
          t.ok(res.statusCode === 400 && isProblem(res) && res.body.includes(ep.field), `${label} → 400 naming ${ep.field}`, { got: `${res.statusCode} ${res.body.slice(0, 300)}` })
        }
        t.same(await stored(ep.table, account), [], `${label}: nothing written`)
      } else {
        t.ok(res.statusCode < 300, `${label} → accepted`, { got: `${res.statusCode} ${res.body.slice(0, 300)}` })
        t.same(await stored(ep.table, account), [expected], `${label}: stored as ${expected}`)
      }
    }
  }

  t.test('an id named after an Object property is a provider without a usage mapper, not a crash', async (t) => {
    const res = await post('/v1/usage/events', { events: [{ id: uniqueId('e'), timestamp: ISO_S, provider: 'Constructor', model: 'gpt-5', usage: { prompt_tokens: 3, completion_tokens: 1 } }] })
    t.equal(res.statusCode, 200, res.body.slice(0, 300))
    t.match(res.json(), { results: [{ status: 'rejected', errors: [{ path: 'usage', message: /no usage mapper for provider "constructor"/ }] }] })
  })

  t.test('a rate card names a provider in any case, stored folded', async (t) => {
    const card = `ids-${tenantId}`
    t.equal((await app.inject({ method: 'PUT', url: `/v1/rate-cards/${card}`, headers: { ...admin, 'x-tenant-id': tenantId }, payload: {} })).statusCode, 201)
    const put = (provider: string) =>
      app.inject({ method: 'POST', url: `/v1/rate-cards/${card}/rates`, headers: { ...admin, 'x-tenant-id': tenantId }, payload: { rates: [{ provider, model: 'gpt-5', effective_from: '2025-01-01T00:00:00Z', prices: { input: '1.25', output: '10' } }] } })
    const refused = await put('Open AI')
    t.ok(refused.statusCode === 400 && refused.body.includes('provider'), 'a name that is no id is refused', { got: refused.body.slice(0, 300) })
    t.equal((await put('OpenAI')).statusCode, 201, 'OpenAI accepted')
    for (const filter of ['openai', 'OPENAI']) {
      const listed = await app.inject({ method: 'GET', url: `/v1/rate-cards/${card}/rates?provider=${filter}&at=2026-01-01T00:00:00Z`, headers: h })
      t.same((listed.json() as { data: { provider: string }[] }).data.map((r) => r.provider), ['openai'], `listed by ?provider=${filter}`)
    }
  })

  t.test('one provider, whatever the spelling: replaced, not counted twice; priced; found by any filter case', async (t) => {
    const { key: k2, tenantId: tenant2 } = await tenantWithKey(app, ['ingest', 'read'])
    const h2 = bearer(k2)
    const send = (provider: string, tokens: number) =>
      app.inject({ method: 'POST', url: '/v1/usage/buckets', headers: h2, payload: { buckets: [{ start_time: ISO_S, end_time: ISO_E, model: 'gpt-5-2025-08-07', provider, account_id: 'org-1', input_tokens: tokens }] } })
    t.equal((await send('openai', 1000)).statusCode, 200)
    const again = await send('OpenAI', 1500)
    t.equal(again.statusCode, 200)
    const [n] = await app.testDb.query<{ n: number; tokens: number }>(`select count(*)::int as n, sum(input_tokens)::int as tokens from usage_buckets where tenant_id = $1`, [tenant2])
    t.same(n, { n: 1, tokens: 1500 }, 'the OpenAI report replaced the openai one')

    const usage = async (providers: string[]) => {
      const res = await app.inject({
        method: 'POST', url: '/graphql', headers: h2,
        payload: { query: `{ usage(from: "${ISO_S}", to: "${ISO_E}", window: TOTAL, filter: { providers: ${JSON.stringify(providers)} }) { totals { inputTokens cost { total complete } } } }` },
      })
      return (res.json() as { data: { usage: { totals: { inputTokens: number; cost: { total: string; complete: boolean } } } } }).data.usage.totals
    }
    for (const filter of [['openai'], ['OpenAI'], ['OPENAI']]) {
      const totals = await usage(filter)
      t.equal(totals.inputTokens, 1500, `filter ${filter[0]} finds the tokens`)
      t.ok(totals.cost.complete && totals.cost.total !== '0', `filter ${filter[0]}: priced by the default card`, { totals })
    }
    const recon = await app.inject({ method: 'GET', url: `/v1/reconciliation?from=${ISO_S}&to=${ISO_E}&providers=OpenAI`, headers: h2 })
    t.equal(recon.statusCode, 200, recon.body.slice(0, 300))
    t.ok((recon.json() as { data: { provider: string }[] }).data.some((r) => r.provider === 'openai'), 'reconciliation ?providers=OpenAI finds openai')
  })
})
