import type { LightMyRequestResponse } from 'fastify'
import t from 'tap'
import { admin, bearer, build, eachEngine, tenantWithKey, uniqueId } from '../helpers.js'

/**
 * One table of service-tier spellings, fed to every entry point that takes a tier: the tier is stored as
 * `normaliseTier` says (ASCII capitals folded, `standard`/`auto` → `default`, `batch` → the batch flag on
 * `default`), so every spelling of one tier is one natural key, one rate and one filter value. Before, events
 * folded and every other entry point kept the text as sent: `Default` was unpriced and counted beside `default`.
 */
const SPELLINGS: [string, string, boolean][] = [
  ['default', 'default', false],
  ['Default', 'default', false],
  ['STANDARD', 'default', false],
  ['Auto', 'default', false],
  ['Batch', 'default', true],
  ['Flex', 'flex', false],
  ['PRIORITY', 'priority', false],
  // Only ASCII capitals fold (as the migration's `translate` does, whatever the database's locale).
  ['PRIORITÉ', 'prioritÉ', false],
]

const S = 1_767_225_600 // 2026-01-01T00:00:00Z
const E = S + 86_400
const ISO_S = new Date(S * 1000).toISOString()
const ISO_E = new Date(E * 1000).toISOString()

type Probe = (tier: string, account: string) => Promise<LightMyRequestResponse>

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key, tenantId } = await tenantWithKey(app, ['ingest', 'read'])
  const h = bearer(key)
  const post = (url: string, payload: unknown, type = 'application/json') =>
    app.inject({ method: 'POST', url, headers: { ...h, 'content-type': type }, payload: typeof payload === 'string' ? payload : JSON.stringify(payload) })
  const page = (result: Record<string, unknown>) => ({ object: 'page', data: [{ object: 'bucket', start_time: S, end_time: E, results: [result] }] })

  const entryPoints: Record<string, { table: string; probe: Probe }> = {
    'canonical bucket': {
      table: 'usage_buckets',
      probe: (s, a) => post('/v1/usage/buckets', { buckets: [{ start_time: ISO_S, end_time: ISO_E, model: 'gpt-5', service_tier: s, account_id: a, input_tokens: 1 }] }),
    },
    'canonical resource': {
      table: 'usage_resources',
      probe: (s, a) => post('/v1/usage/buckets', { buckets: [], resources: [{ start_time: ISO_S, end_time: ISO_E, model: 'gpt-image-1', service_tier: s, account_id: a, resource: 'images', quantity: '2' }] }),
    },
    'OpenAI page': {
      table: 'usage_buckets',
      probe: (s, a) => post(`/v1/usage/buckets?account_id=${a}`, page({ object: 'organization.usage.completions.result', model: 'gpt-5', service_tier: s, input_tokens: 10, output_tokens: 2 })),
    },
    'usage CSV': {
      table: 'usage_buckets',
      probe: (s, a) => post(`/v1/usage/buckets?account_id=${a}`, `start_time,end_time,model,service_tier,input_tokens\n${S},${E},gpt-5,"${s}",1\n`, 'text/csv'),
    },
    'Anthropic usage report': {
      table: 'usage_buckets',
      probe: (s, a) => post(`/v1/usage/buckets?provider=anthropic&account_id=${a}`, { data: [{ starting_at: ISO_S, ending_at: ISO_E, results: [{ model: 'claude-sonnet-4-20250514', service_tier: s, uncached_input_tokens: 10, output_tokens: 4 }] }] }),
    },
    'Anthropic cost report': {
      table: 'billed_costs',
      probe: (s, a) => post(`/v1/billing/costs?account_id=${a}`, { data: [{ starting_at: ISO_S, ending_at: ISO_E, results: [{ amount: '12.5', currency: 'USD', cost_type: 'tokens', description: 'Input Tokens', model: 'claude-sonnet-4', service_tier: s, token_type: 'uncached_input_tokens', workspace_id: null }] }] }),
    },
    event: {
      table: 'usage_events',
      probe: (s, a) => post('/v1/usage/events', { events: [{ id: uniqueId('e'), timestamp: ISO_S, service_tier: s, account_id: a, model: 'gpt-5', input_tokens: 1 }] }),
    },
  }

  for (const [name, ep] of Object.entries(entryPoints)) {
    for (const [spelling, tier, batch] of SPELLINGS) {
      const account = uniqueId('acct')
      const res = await ep.probe(spelling, account)
      const label = `${name}: ${JSON.stringify(spelling)}`
      t.ok(res.statusCode < 300 && !res.body.includes('"rejected"'), `${label} → accepted`, { got: `${res.statusCode} ${res.body.slice(0, 300)}` })
      const rows = await app.testDb.query<{ service_tier: string; batch: boolean | null }>(
        `select service_tier, batch from ${ep.table} where tenant_id = $1 and account_id = $2`, [tenantId, account])
      t.same(rows.map((r) => [r.service_tier, r.batch === true]), [[tier, batch]], `${label}: stored as ${tier}${batch ? ', batch' : ''}`)
    }
  }

  t.test('a rate card names a tier in any case, stored folded', async (t) => {
    const card = `tiers-${tenantId}`
    t.equal((await app.inject({ method: 'PUT', url: `/v1/rate-cards/${card}`, headers: { ...admin, 'x-tenant-id': tenantId }, payload: {} })).statusCode, 201)
    const put = (tier: string) =>
      app.inject({ method: 'POST', url: `/v1/rate-cards/${card}/rates`, headers: { ...admin, 'x-tenant-id': tenantId }, payload: { rates: [{ provider: 'openai', model: 'gpt-5', service_tier: tier, effective_from: '2025-01-01T00:00:00Z', prices: { input: '1.25', output: '10' } }] } })
    const refused = await put('Standard')
    t.ok(refused.statusCode === 400 && refused.body.includes('stored as \\"default\\"'), 'Standard is refused as standard is', { got: refused.body.slice(0, 300) })
    const created = await put('Flex')
    t.equal(created.statusCode, 201, created.body.slice(0, 300))
    t.match(created.json(), { rates: [{ service_tier: 'flex' }] }, 'stored as flex')
  })

  // Parts of one key that differ only in how they spell "default" (one says it, one does not) report the
  // tier. The JSON forms kept the first part's dimensions when summing, the CSV ORs them all: one report
  // posted both ways had two shapes, a 409 where it is the same usage.
  t.test('parts of one key, one naming the tier: the page, its CSV and canonical rows are one shape', async (t) => {
    const { key: k3 } = await tenantWithKey(app, ['ingest', 'read'])
    const send = (url: string, payload: unknown, type = 'application/json') =>
      app.inject({ method: 'POST', url, headers: { ...bearer(k3), 'content-type': type }, payload: typeof payload === 'string' ? payload : JSON.stringify(payload) })
    const part = (tier: string | null, tokens: number) => ({ object: 'organization.usage.completions.result', model: 'gpt-5', project_id: 'p', service_tier: tier, input_tokens: tokens })
    const csv = `start_time,end_time,model,project_id,service_tier,input_tokens\n${S},${E},gpt-5,p,,10\n${S},${E},gpt-5,p,default,20\n`
    const image = (tier: string | null) => ({ object: 'organization.usage.images.result', model: 'dall-e-3', project_id: 'p', service_tier: tier, images: 1, size: '1024x1024' })
    for (const first of ['page', 'csv'] as const) {
      const pageRes = () => send(`/v1/usage/buckets?account_id=${first}`, { object: 'page', data: [{ start_time: S, end_time: E, results: [part(null, 10), part('default', 20)] }] })
      const csvRes = () => send(`/v1/usage/buckets?account_id=${first}`, csv, 'text/csv')
      const [a, b] = first === 'page' ? [await pageRes(), await csvRes()] : [await csvRes(), await pageRes()]
      t.equal(a.statusCode, 200, a.body)
      t.equal(b.statusCode, 200, b.body)
      t.match(b.json(), { created: 0, replaced: 0, unchanged: 1 }, `${first} first: the other form is the same bucket`)
    }
    const images = await send('/v1/usage/buckets?account_id=img', { object: 'page', data: [{ start_time: S, end_time: E, results: [image(null), image('default')] }] })
    t.equal(images.statusCode, 200, images.body)
    const canonical = await send('/v1/usage/buckets', { resources: [{ start_time: S, end_time: E, account_id: 'img', model: 'dall-e-3', project_id: 'p', service_tier: 'default', resource: 'images', quantity: '2', attributes: { size: '1024x1024' } }] })
    t.equal(canonical.statusCode, 200, canonical.body)
    t.match(canonical.json(), { created: 0, replaced: 0, unchanged: 1 }, 'the canonical resource is the page\'s')
  })

  t.test('one tier, whatever the spelling: replaced, not counted twice; priced; found by any filter case', async (t) => {
    const { key: k2 } = await tenantWithKey(app, ['ingest', 'read'])
    const h2 = bearer(k2)
    const send = (tier: string, tokens: number) =>
      app.inject({ method: 'POST', url: '/v1/usage/buckets', headers: h2, payload: { buckets: [{ start_time: ISO_S, end_time: ISO_E, model: 'gpt-5-2025-08-07', service_tier: tier, account_id: 'org-1', input_tokens: tokens }] } })
    t.equal((await send('default', 1000)).statusCode, 200)
    const again = await send('Default', 1500)
    t.equal(again.statusCode, 200)
    t.match(again.json(), { replaced: 1, created: 0 }, 'the Default report replaced the default one')

    const usage = async (serviceTiers: string[]) => {
      const res = await app.inject({
        method: 'POST', url: '/graphql', headers: h2,
        payload: { query: `{ usage(from: "${ISO_S}", to: "${ISO_E}", window: TOTAL, filter: { serviceTiers: ${JSON.stringify(serviceTiers)} }) { totals { inputTokens cost { total complete } } } }` },
      })
      return (res.json() as { data: { usage: { totals: { inputTokens: number; cost: { total: string; complete: boolean } } } } }).data.usage.totals
    }
    for (const filter of [['default'], ['Default'], ['DEFAULT']]) {
      const totals = await usage(filter)
      t.equal(totals.inputTokens, 1500, `filter ${filter[0]} finds the tokens, once`)
      t.ok(totals.cost.complete && totals.cost.total !== '0', `filter ${filter[0]}: priced by the default card`, { totals })
    }
  })
})
