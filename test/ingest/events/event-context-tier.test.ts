import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../../helpers.js'

// Events carry the dimensions of Bucket (contract v1 "Per-request events"), and v2 adds context_tier and
// inference_geo to every row. The default card prices a context-tiered model (claude-sonnet-4-5) only
// through its 0-200k / 200k-1M rates, so an event that could not say its tier was always unpriced.

const HOUR = '2026-03-01T10:00:00Z'
const RANGE = { from: '2026-03-01T00:00:00Z', to: '2026-03-02T00:00:00Z' }
const base = { timestamp: '2026-03-01T10:15:00Z', provider: 'anthropic', model: 'claude-sonnet-4-5-20250929' }

interface Row {
  contextTier: string | null
  inferenceGeo: string | null
  inputTokens: number
  cost: { total: string; complete: boolean; unpricedTokens: number }
}

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key } = await tenantWithKey(app)
  const post = async (events: unknown[]) => {
    const res = await app.inject({ method: 'POST', url: '/v1/usage/events', headers: bearer(key), payload: { events } })
    t.equal(res.statusCode, 200, res.body)
    return (res.json() as { results: { status: string; errors?: unknown }[] }).results
  }
  const usage = async (from: string, to: string, window: string) => {
    const res = await app.inject({
      method: 'POST',
      url: '/graphql',
      headers: bearer(key),
      payload: {
        query: `{ usage(from: "${from}", to: "${to}", window: ${window}, groupBy: [CONTEXT_TIER, INFERENCE_GEO], filter: { sources: ["events"] }) {
          rows { contextTier inferenceGeo inputTokens cost { total complete unpricedTokens } } } }`,
      },
    })
    const body = res.json() as { data?: { usage: { rows: Row[] } }; errors?: unknown }
    t.equal(body.errors, undefined, res.body)
    return body.data!.usage.rows
  }

  const events = [
    { ...base, id: 'short', context_tier: '0-200k', inference_geo: 'global', input_tokens: 1000, output_tokens: 100 },
    { ...base, id: 'long', context_tier: '200k-1M', inference_geo: 'global', input_tokens: 300000, output_tokens: 100 },
    { ...base, id: 'untiered', input_tokens: 50 },
  ]

  t.test('an event names its context tier and geo, and is priced by its tier', async (t) => {
    t.same((await post(events)).map((r) => r.status), ['created', 'created', 'created'])
    t.same((await post(events)).map((r) => r.status), ['duplicate', 'duplicate', 'duplicate'], 're-posting changes nothing')
    const other = await post([{ ...events[0], context_tier: '200k-1M' }])
    t.equal(other[0]!.status, 'rejected', 'the same id with another tier is other content')

    // Whole hours read the hourly event rollup; an off-hour range reads the stored events: both keep the tiers apart.
    for (const [from, to, window] of [[RANGE.from, RANGE.to, 'DAY'], [HOUR, '2026-03-01T10:30:00Z', 'MINUTE']] as const) {
      const rows = await usage(from, to, window)
      const sum = (tier: string | null) => rows.filter((r) => r.contextTier === tier)
      t.same(sum('0-200k').map((r) => [r.inferenceGeo, r.inputTokens, r.cost]), [['global', 1000, { total: '0.0045', complete: true, unpricedTokens: 0 }]], `${window}: 0-200k`)
      t.same(sum('200k-1M').map((r) => [r.inferenceGeo, r.inputTokens, r.cost.complete]), [['global', 300000, true]], `${window}: 200k-1M`)
      t.same(sum(null).map((r) => [r.inferenceGeo, r.inputTokens, r.cost]), [[null, 50, { total: '0', complete: false, unpricedTokens: 50 }]], `${window}: untiered stays unpriced`)
    }

    const res = await app.inject({
      method: 'POST',
      url: '/graphql',
      headers: bearer(key),
      payload: { query: `{ events(from: "${RANGE.from}", to: "${RANGE.to}", orderBy: TIME_ASC) { rows { id cost { total complete } } } }` },
    })
    const rows = (res.json() as { data: { events: { rows: { id: string; cost: { total: string; complete: boolean } }[] } } }).data.events.rows
    t.same(rows.find((r) => r.id === 'short')?.cost, { total: '0.0045', complete: true }, 'the events page prices it by its tier')
  })

  t.test('a bad tier rejects that event alone', async (t) => {
    const results = await post([
      { ...base, id: 'bad-tier', context_tier: 'x'.repeat(257), input_tokens: 1 },
      { ...base, id: 'bad-geo', inference_geo: 'a\u0000b', input_tokens: 1 },
      { ...base, id: 'fine', context_tier: '0-200k', input_tokens: 1 },
    ])
    t.same(results.map((r) => r.status), ['rejected', 'rejected', 'created'])
  })
})
