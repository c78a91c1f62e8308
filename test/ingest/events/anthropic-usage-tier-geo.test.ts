import { Decimal } from 'decimal.js'
import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../../helpers.js'

/**
 * An Anthropic Messages response's `usage` says the tier the call was served at (`service_tier`:
 * standard, priority, batch) and where (`inference_geo`). Posted as an event's raw `usage`, they choose the
 * rate as the same fields of a usage report do (standard → default, batch → the batch flag), unless the
 * event's own service_tier, batch or inference_geo says otherwise. The default card prices Anthropic batch
 * at half, has no priority rate and leaves `us` unpriced on purpose: each shows in the cost.
 */

const base = { timestamp: '2026-03-01T10:15:00Z', provider: 'anthropic', model: 'claude-haiku-4-5' }
const usage = (extra: Record<string, unknown>) => ({
  usage: { input_tokens: 1000, output_tokens: 100, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, ...extra },
})
const EVENTS = [
  { ...base, id: 'standard', ...usage({ service_tier: 'standard', inference_geo: 'global' }) },
  { ...base, id: 'batch', ...usage({ service_tier: 'batch', inference_geo: 'global' }) },
  { ...base, id: 'priority', ...usage({ service_tier: 'priority' }) },
  { ...base, id: 'us', ...usage({ service_tier: 'standard', inference_geo: 'us' }) },
  { ...base, id: 'own-tier', service_tier: 'standard', ...usage({ service_tier: 'priority' }) },
  { ...base, id: 'own-geo', inference_geo: 'global', ...usage({ service_tier: 'standard', inference_geo: 'us' }) },
  { ...base, id: 'own-batch', batch: false, ...usage({ service_tier: 'batch', inference_geo: 'global' }) },
]

interface EventRow { id: string; serviceTier: string | null; batch: boolean | null; inferenceGeo: string | null; cost: { total: string; complete: boolean } }

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key } = await tenantWithKey(app, ['ingest', 'read'])
  const h = bearer(key)
  const post = async (events: unknown[]) => {
    const res = await app.inject({ method: 'POST', url: '/v1/usage/events', headers: h, payload: { events } })
    t.equal(res.statusCode, 200, res.body)
    return (res.json() as { results: { id: string; status: string; errors?: { path: string; message: string }[] }[] }).results
  }
  const gql = async <T>(query: string): Promise<T> => {
    const res = await app.inject({ method: 'POST', url: '/graphql', headers: h, payload: { query } })
    const body = res.json() as { data: T; errors?: unknown }
    t.equal(body.errors, undefined, res.body)
    return body.data
  }

  t.test("the usage object's tier and geo choose the rate; the event's own fields win", async (t) => {
    t.same((await post(EVENTS)).map((r) => r.status), EVENTS.map(() => 'created'))
    const { events } = await gql<{ events: { rows: EventRow[] } }>(`{ events(from: "2026-03-01T00:00:00Z", to: "2026-03-02T00:00:00Z",
      orderBy: TIME_ASC) { rows { id serviceTier batch inferenceGeo cost { total complete } } } }`)
    const row = (id: string) => events.rows.find((r) => r.id === id)
    const dims = (id: string) => { const r = row(id); return r && [r.serviceTier, r.batch, r.inferenceGeo] }
    t.same(dims('standard'), ['default', null, 'global'], 'standard is the default tier')
    t.same(dims('batch'), ['default', true, 'global'], 'batch is the batch flag')
    t.same(dims('priority'), ['priority', null, null], 'priority is the priority tier')
    t.same(dims('us'), ['default', null, 'us'], 'the geo as given')
    t.same(dims('own-tier'), ['default', null, null], "the event's service_tier wins")
    t.same(dims('own-geo'), ['default', null, 'global'], "the event's inference_geo wins")
    t.same(dims('own-batch'), ['default', false, 'global'], "the event's batch: false wins over the usage's batch")

    const standard = row('standard')!.cost
    t.equal(standard.complete, true, 'standard usage is priced')
    t.ok(new Decimal(row('batch')!.cost.total).times(2).equals(standard.total), `batch at half: ${row('batch')!.cost.total} vs ${standard.total}`)
    t.equal(row('priority')!.cost.complete, false, 'priority has no rate on the default card')
    t.equal(row('us')!.cost.complete, false, 'us-only inference is unpriced on the default card')
    for (const id of ['own-tier', 'own-geo', 'own-batch']) t.same(row(id)!.cost, standard, `${id} is priced as standard`)

    const { usage: u } = await gql<{ usage: { rows: { serviceTier: string; batch: boolean | null; inferenceGeo: string | null; cost: { complete: boolean } }[] } }>(
      `{ usage(from: "2026-03-01T00:00:00Z", to: "2026-03-02T00:00:00Z", window: TOTAL, groupBy: [SERVICE_TIER, BATCH, INFERENCE_GEO],
        filter: { sources: ["events"] }) { rows { serviceTier batch inferenceGeo cost { complete } } } }`)
    t.same(u.rows.map((r) => [r.serviceTier, r.batch, r.inferenceGeo, r.cost.complete]), [
      ['default', false, 'global', true],
      ['default', true, 'global', true],
      ['default', null, 'global', true],
      ['default', null, 'us', false],
      ['default', null, null, true],
      ['priority', null, null, false],
    ], 'usage groups them by the same tier, batch and geo')
  })

  t.test('a standard tier without a geo is the content it always was', async (t) => {
    const plain = { ...base, id: 'plain', ...usage({ service_tier: 'standard' }) }
    t.same((await post([plain])).map((r) => r.status), ['created'])
    t.same((await post([{ ...plain, ...usage({}) }])).map((r) => r.status), ['duplicate'], 'the same call without service_tier is a duplicate')
  })

  t.test('a bad tier or geo in the usage object rejects that event alone', async (t) => {
    const results = await post([
      { ...base, id: 'bad-tier', ...usage({ service_tier: 5 }) },
      { ...base, id: 'bad-geo', ...usage({ inference_geo: '' }) },
      { ...base, id: 'fine', ...usage({ service_tier: 'PRIORITY' }) },
    ])
    t.same(results.map((r) => [r.id, r.status, r.errors?.map((e) => e.path)]), [
      ['bad-tier', 'rejected', ['usage.service_tier']],
      ['bad-geo', 'rejected', ['usage.inference_geo']],
      ['fine', 'created', undefined],
    ])
  })
})
