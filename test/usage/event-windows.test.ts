import t from 'tap'
import { sql } from 'drizzle-orm'
import { queryUsagePage, type UsageArgs } from '../../src/usage/usage-service.js'
import { seedCard } from '../factories/usage.js'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

// Events are stored with their own instant, and the contract puts each in the window that contains it.
// Their tokens are also summed per UTC hour (usage_event_rollups): that is exact only for windows, ranges
// and price changes on whole UTC hours, so an event at 18:45 UTC (00:15 the next day in Asia/Kolkata)
// must not follow its rollup hour 18:00 (23:30 in Kolkata) into the day before — nor into minute 18:00.

const at = (iso: string) => new Date(iso)

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key, tenantId } = await tenantWithKey(app)
  // Input at 1 USD per 1M tokens until 18:30 UTC, 3 after; web searches 0.01 then 0.03.
  const rate = (from: string, input: string, search: string) => ({
    model: 'gpt-5*', effectiveFrom: at(from), recordedAt: at('2026-01-01T00:00:00Z'),
    prices: { input, output: '0' }, unitPrices: [{ resource: 'web_search_calls', price: search }],
  })
  await seedCard(db(), `flat-${tenantId}`, [rate('2026-01-01T00:00:00Z', '1', '0.01')])
  await seedCard(db(), `half-${tenantId}`, [rate('2026-01-01T00:00:00Z', '1', '0.01'), rate('2026-03-01T18:30:00Z', '3', '0.03')])
  function db() {
    return app.testDb
  }

  const event = (id: string, timestamp: string, search = 0) => ({
    id, timestamp, model: 'gpt-5-mini', input_tokens: 1_000_000, output_tokens: 0,
    ...(search ? { resources: [{ resource: 'web_search_calls', quantity: search }] } : {}),
  })
  const res = await app.inject({
    method: 'POST', url: '/v1/usage/events', headers: bearer(key),
    payload: { events: [event('before', '2026-03-01T18:15:00Z', 1), event('after', '2026-03-01T18:45:00Z', 2), event('late', '2026-03-01T19:05:00Z')] },
  })
  t.equal(res.statusCode, 200, res.body)

  const run = async (over: Partial<UsageArgs>) => {
    const page = await queryUsagePage(app.testDb, {
      tenantId, from: at('2026-02-28T18:30:00Z'), to: at('2026-03-02T18:30:00Z'), window: 'DAY', timeZone: 'Asia/Kolkata',
      groupBy: [], groupByLabels: [], filter: { sources: ['events'] }, rateCard: `flat-${tenantId}`, first: 1000, ...over,
    }, { maxGroups: 10_000 })
    return page.rows.map((r) => ({ w: r.windowStart.toISOString(), input: r.inputTokens, requests: r.requests, cost: Number(r.cost.total) }))
  }

  t.test('a Kolkata day holds the events of its local day', async (t) => {
    t.same(await run({}), [
      { w: '2026-02-28T18:30:00.000Z', input: 1_000_000, requests: 1, cost: 1.01 },
      { w: '2026-03-01T18:30:00.000Z', input: 2_000_000, requests: 2, cost: 2.02 },
    ], 'the 18:15 event on 1 March, the 18:45 and 19:05 events on 2 March (local)')
    t.same(await run({ timeZone: 'Asia/Kathmandu', from: at('2026-02-28T18:15:00Z'), to: at('2026-03-02T18:15:00Z') }), [
      { w: '2026-03-01T18:15:00.000Z', input: 3_000_000, requests: 3, cost: 3.03 },
    ], 'Kathmandu (+05:45): the 18:15 event opens 2 March, local')
  })

  t.test('minute windows hold the events of their minute', async (t) => {
    t.same(await run({ window: 'MINUTE', timeZone: 'UTC', from: at('2026-03-01T18:00:00Z'), to: at('2026-03-01T20:00:00Z') }), [
      { w: '2026-03-01T18:15:00.000Z', input: 1_000_000, requests: 1, cost: 1.01 },
      { w: '2026-03-01T18:45:00.000Z', input: 1_000_000, requests: 1, cost: 1.02 },
      { w: '2026-03-01T19:05:00.000Z', input: 1_000_000, requests: 1, cost: 1 },
    ])
  })

  t.test('a range off the hour holds the events inside it', async (t) => {
    t.same(await run({ window: 'TOTAL', timeZone: 'UTC', from: at('2026-03-01T18:30:00Z'), to: at('2026-03-01T19:00:00Z') }), [
      { w: '2026-03-01T18:30:00.000Z', input: 1_000_000, requests: 1, cost: 1.02 },
    ])
  })

  t.test('a price change off the hour prices each event by its own instant', async (t) => {
    t.same(await run({ window: 'HOUR', timeZone: 'UTC', from: at('2026-03-01T18:00:00Z'), to: at('2026-03-01T20:00:00Z'), rateCard: `half-${tenantId}` }), [
      { w: '2026-03-01T18:00:00.000Z', input: 2_000_000, requests: 2, cost: 4.07 },
      { w: '2026-03-01T19:00:00.000Z', input: 1_000_000, requests: 1, cost: 3 },
    ])
  })

  t.test('hours whose raw events retention dropped still count, by their rollup hour', async (t) => {
    const before = await run({ window: 'TOTAL' })
    // Retention drops whole months of raw events and keeps the rollup; an older month stands in for it.
    const old = await app.inject({ method: 'POST', url: '/v1/usage/events', headers: bearer(key), payload: { events: [event('old', '2026-02-10T08:45:00Z')] } })
    t.equal(old.statusCode, 200, old.body)
    await app.testDb.query(sql`delete from usage_events where tenant_id = ${tenantId} and id = 'old'`)
    const month = { timeZone: 'Asia/Kolkata', from: at('2026-01-31T18:30:00Z'), to: at('2026-03-02T18:30:00Z') }
    t.same(await run({ ...month, window: 'MONTH' }), [
      { w: '2026-01-31T18:30:00.000Z', input: 1_000_000, requests: 1, cost: 1 },
      { w: '2026-02-28T18:30:00.000Z', input: 3_000_000, requests: 3, cost: 3.03 },
    ], 'the dropped event counts in February (its rollup hour 08:00 is 13:30 local, the same month)')
    t.same(await run({ window: 'TOTAL' }), before, 'ranges with every event stored are unchanged')
  })

  t.test('windows on whole UTC hours still read the event rollup and agree', async (t) => {
    t.same(await run({ window: 'HOUR', timeZone: 'UTC', from: at('2026-03-01T18:00:00Z'), to: at('2026-03-01T20:00:00Z') }), [
      { w: '2026-03-01T18:00:00.000Z', input: 2_000_000, requests: 2, cost: 2.03 },
      { w: '2026-03-01T19:00:00.000Z', input: 1_000_000, requests: 1, cost: 1 },
    ])
  })
})
