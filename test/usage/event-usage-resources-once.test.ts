import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

// A raw Anthropic `usage` maps server_tool_use.web_search_requests to the event's web_search_calls
// resource. The same event also listing web_search_calls in `resources` named those searches twice,
// and both were stored and counted. The rule is the one for token counters beside `usage`: send a
// count in one place — the event is rejected naming the repeated resource, and nothing is stored.

const TS = '2026-03-01T10:15:00Z'
const usage = (searches: number) => ({ input_tokens: 100, output_tokens: 20, server_tool_use: { web_search_requests: searches } })
const event = (id: string, searches: number, resources?: unknown[]) => ({
  id,
  timestamp: TS,
  model: 'claude-sonnet-4-5',
  provider: 'anthropic',
  usage: usage(searches),
  ...(resources ? { resources } : {}),
})

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key, tenantId } = await tenantWithKey(app)
  const post = async (events: unknown[]) => {
    const res = await app.inject({ method: 'POST', url: '/v1/usage/events', headers: bearer(key), payload: { events } })
    t.equal(res.statusCode, 200, res.body)
    return (res.json() as { results: { id: string; status: string; errors?: { path: string; message: string }[] }[] }).results
  }
  const stored = (id: string) =>
    app.testDb.query<{ resource: string; quantity: string }>(
      'select resource, quantity::text as quantity from usage_event_resources where tenant_id = $1 and event_id = $2 order by position',
      [tenantId, id],
    )

  t.test('web searches in usage and again in resources reject the event, naming the repeated item', async (t) => {
    const [out] = await post([event('twice', 3, [{ resource: 'images', quantity: 1 }, { resource: 'web_search_calls', quantity: 3, attributes: { context_level: 'low' } }])])
    t.equal(out!.status, 'rejected')
    t.match(out!.errors, [{ path: 'resources.1.resource', message: /usage\.server_tool_use\.web_search_requests/ }])
    t.equal(out!.errors!.length, 1, 'the other resource is fine')
    t.same(await stored('twice'), [], 'nothing stored')
    t.same(await app.testDb.query('select id from usage_events where tenant_id = $1 and id = $2', [tenantId, 'twice']), [])
  })

  t.test('web searches sent in one place are stored once', async (t) => {
    const out = await post([
      event('usage-only', 3),
      event('listed-only', 0, [{ resource: 'web_search_calls', quantity: 3, attributes: { context_level: 'low' } }]),
      event('other-resource', 2, [{ resource: 'images', quantity: 1 }]),
    ])
    t.same(out.map((r) => r.status), ['created', 'created', 'created'], JSON.stringify(out))
    t.same(await stored('usage-only'), [{ resource: 'web_search_calls', quantity: '3' }])
    t.same(await stored('listed-only'), [{ resource: 'web_search_calls', quantity: '3' }], 'a reported 0 adds no resource, so the list is the only count')
    t.same(await stored('other-resource'), [{ resource: 'web_search_calls', quantity: '2' }, { resource: 'images', quantity: '1' }])
  })
})
