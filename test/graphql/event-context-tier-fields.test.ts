import t from 'tap'
import { bearer, build, eachEngine, graphqlData, postCreatedEvents, tenantWithKey } from '../helpers.js'

/**
 * Contract v2 "Counters and dimensions, extended": context_tier and inference_geo are dimensions of every
 * row, and they choose the rate (a rate for the row's tier or geo over one for any). An event that says
 * its tier is priced by it, so its row in `events` names the tier and geo its cost was priced at — the
 * same event under `usage` grouped by CONTEXT_TIER / INFERENCE_GEO does. claude-sonnet-4-5 is priced by
 * the default card only through its 0-200k / 200k-1M rates: two events of one model and one geo cost
 * differently, and only the tier tells why.
 */

const base = { timestamp: '2026-03-01T10:15:00Z', provider: 'anthropic', model: 'claude-sonnet-4-5-20250929', output_tokens: 100 }
const EVENTS = [
  { ...base, id: 'short', context_tier: '0-200k', inference_geo: 'global', input_tokens: 1000 },
  { ...base, id: 'long', context_tier: '200k-1M', inference_geo: 'global', input_tokens: 1000 },
  { ...base, id: 'untiered', input_tokens: 1000 },
]
const QUERY = `{ events(from: "2026-03-01T00:00:00Z", to: "2026-03-02T00:00:00Z", orderBy: TIME_ASC) {
  rows { id contextTier inferenceGeo cost { total complete } } } }`
const USAGE = `{ usage(from: "2026-03-01T00:00:00Z", to: "2026-03-02T00:00:00Z", window: TOTAL, groupBy: [CONTEXT_TIER, INFERENCE_GEO], filter: { sources: ["events"] }) {
  rows { contextTier inferenceGeo cost { total complete } } } }`

interface Row { id?: string; contextTier: string | null; inferenceGeo: string | null; cost: { total: string; complete: boolean } }

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key } = await tenantWithKey(app, ['ingest', 'read'])
  await postCreatedEvents(t, app, bearer(key), EVENTS)
  const gql = (query: string) => graphqlData<Record<string, { rows: Row[] }> | undefined>(t, app, bearer(key), query)
  const events = (await gql(QUERY))?.events?.rows ?? []
  const byId = (id: string) => events.find((e) => e.id === id)
  t.same(['short', 'long', 'untiered'].map((id) => ({ id, contextTier: byId(id)?.contextTier, inferenceGeo: byId(id)?.inferenceGeo })), [
    { id: 'short', contextTier: '0-200k', inferenceGeo: 'global' },
    { id: 'long', contextTier: '200k-1M', inferenceGeo: 'global' },
    { id: 'untiered', contextTier: null, inferenceGeo: null },
  ], 'each event names the context tier and geo it was reported in')
  t.not(byId('short')?.cost.total, byId('long')?.cost.total, 'the two tiers are priced differently')

  // Each event is its own (tier, geo) group: `usage` shows the same tier, geo and cost for it.
  const usage = (await gql(USAGE))?.usage?.rows ?? []
  for (const e of events) {
    const row = usage.find((u) => u.contextTier === e.contextTier && u.inferenceGeo === e.inferenceGeo)
    t.same(row?.cost, e.cost, `usage prices ${String(e.id)} at its tier and geo as the event row says`)
  }
})
