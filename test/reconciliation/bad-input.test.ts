import t from 'tap'
import { sql } from 'drizzle-orm'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

/**
 * Bad input to the three faces of reconciliation (REST JSON, REST CSV, GraphQL) is a 4xx problem (or a
 * GraphQL error that is not INTERNAL_SERVER_ERROR), never a 500 — including a stored bill whose period
 * widens the range far past what was asked.
 */

const DAY = 1759276800 // 2025-10-01T00:00:00Z
const YEAR = 365 * 86_400

const REST: string[] = [
  'from=%00&to=2025-10-02T00:00:00Z',
  `from=${DAY}&to=%00`,
  'from=2025-02-30T00:00:00Z&to=2025-03-02T00:00:00Z',
  'from=2025-13-01T00:00:00Z&to=2026-01-01T00:00:00Z',
  `from=${DAY + 86_400}&to=${DAY}`,
  `from=${DAY}&to=${DAY}`,
  'from=-99999999999999&to=99999999999999',
  'from=0&to=253402300800',
  `from=${'9'.repeat(400)}&to=${DAY}`,
  `from=${DAY}&to=${DAY + 86_400}&window=hour`,
  `from=${DAY}&to=${DAY + 86_400}&window=%00`,
  `from=${DAY}&to=${DAY + 86_400}&group_by=${'x'.repeat(100_000)}`,
  `from=${DAY}&to=${DAY + 86_400}&group_by=provider%00`,
  `from=${DAY}&to=${DAY + 86_400}&rate_card=%00`,
  `from=${DAY}&to=${DAY + 86_400}&rate_card=${'r'.repeat(100_000)}`,
  `from=${DAY}&to=${DAY + 86_400}&tolerance=-1`,
  `from=${DAY}&to=${DAY + 86_400}&tolerance=1e5`,
  `from=${DAY}&to=${DAY + 86_400}&tolerance=${'1'.repeat(5000)}`,
  `from=${DAY}&to=${DAY + 86_400}&pricing_as_of=%00`,
  `from=${DAY}&to=${DAY + 86_400}&pricing_as_of=-99999999999999`,
  `from=${DAY}&to=${DAY + 86_400}&project_ids=%00`,
  `from=${DAY}&to=${DAY + 86_400}&project_ids=${'p'.repeat(100_000)}`,
  `from=${DAY}&to=${DAY + 86_400}&models[0]=%00`,
  `from=${DAY}&to=${DAY + 86_400}&first=0`,
  `from=${DAY}&to=${DAY + 86_400}&first=-1`,
  `from=${DAY}&to=${DAY + 86_400}&first=99999999999`,
  `from=${DAY}&to=${DAY + 86_400}&after=%00`,
  `from=${DAY}&to=${DAY + 86_400}&after=${'a'.repeat(100_000)}`,
  `from=${DAY}&to=${DAY + 86_400}&time_zone=Mars/Olympus`,
  `from=${DAY}&to=${DAY + 86_400}&time_zone=America/Los_Angeles`,
  `from=${DAY}&to=${DAY + 86_400}&batch=maybe`,
  'from=2025-10-01T00:00:00%2B25:00&to=2025-10-02T00:00:00Z',
  'from=2025-10-01T24:00:00Z&to=2025-10-03T00:00:00Z',
  'from=2016-12-31T23:59:60Z&to=2017-01-02T00:00:00Z',
  'from=2025-10-01&to=2025-10-02',
  `from=${DAY}&to=${DAY + 86_400}&${Array.from({ length: 2000 }, (_, i) => `group_by[${i}]=provider`).join('&')}`,
  `from=${DAY}&to=${DAY + 86_400}&${Array.from({ length: 2000 }, (_, i) => `project_ids=p${i}`).join('&')}`,
]

const GQL: string[] = [
  `reconciliation(from: "2025-02-30T00:00:00Z", to: "2025-03-02T00:00:00Z")`,
  `reconciliation(from: "2025-10-02T00:00:00Z", to: "2025-10-01T00:00:00Z")`,
  `reconciliation(from: "\\u0000", to: "2025-10-01T00:00:00Z")`,
  `reconciliation(from: "0001-01-01T00:00:00Z", to: "9999-12-31T23:59:59Z")`,
  `reconciliation(from: "2025-10-01T00:00:00Z", to: "2025-10-02T00:00:00Z", window: HOUR)`,
  `reconciliation(from: "2025-10-01T00:00:00Z", to: "2025-10-02T00:00:00Z", rateCard: "\\u0000")`,
  `reconciliation(from: "2025-10-01T00:00:00Z", to: "2025-10-02T00:00:00Z", rateCard: "${'r'.repeat(50_000)}")`,
  `reconciliation(from: "2025-10-01T00:00:00Z", to: "2025-10-02T00:00:00Z", tolerance: "-1")`,
  `reconciliation(from: "2025-10-01T00:00:00Z", to: "2025-10-02T00:00:00Z", tolerance: "NaN")`,
  `reconciliation(from: "2025-10-01T00:00:00Z", to: "2025-10-02T00:00:00Z", filter: { projectIds: ["\\u0000"] })`,
  `reconciliation(from: "2025-10-01T00:00:00Z", to: "2025-10-02T00:00:00Z", filter: { models: ["${'m'.repeat(50_000)}"] })`,
  `reconciliation(from: "2025-10-01T00:00:00Z", to: "2025-10-02T00:00:00Z", first: -1)`,
  `reconciliation(from: "2025-10-01T00:00:00Z", to: "2025-10-02T00:00:00Z", first: 2147483647)`,
  `reconciliation(from: "2025-10-01T00:00:00Z", to: "2025-10-02T00:00:00Z", after: "\\u0000")`,
  `reconciliation(from: "2025-10-01T00:00:00Z", to: "2025-10-02T00:00:00Z", pricingAsOf: "1969-12-31T23:59:59Z")`,
  `reconciliation(from: "2025-10-01T00:00:00+25:00", to: "2025-10-02T00:00:00Z")`,
  `reconciliation(from: "2016-12-31T23:59:60Z", to: "2017-01-02T00:00:00Z")`,
  `reconciliation(from: "2025-10-01T00:00:00Z", to: "2025-10-02T00:00:00Z", groupBy: [${Array.from({ length: 2000 }, () => 'PROVIDER').join(', ')}])`,
  `reconciliation(from: "2025-10-01T00:00:00Z", to: "2025-10-02T00:00:00Z", filter: { projectIds: [${Array.from({ length: 5000 }, (_, i) => `"p${i}"`).join(', ')}] })`,
]

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key, tenantId } = await tenantWithKey(app, ['ingest', 'read'])
  const h = bearer(key)

  const probe = async (what: string) => {
    for (const accept of ['application/json', 'text/csv']) {
      for (const q of REST) {
        const res = await app.inject({ url: `/v1/reconciliation?${q}`, headers: { ...h, accept } })
        const shown = `${accept} ${q.slice(0, 80)}: ${res.statusCode} ${res.body.slice(0, 200)}`
        t.ok(res.statusCode < 500, `${what}, ${shown}`)
        if (res.statusCode >= 400) t.match(res.headers['content-type'], /application\/problem\+json/, `${what}, ${shown}: a problem`)
      }
    }
    for (const q of GQL) {
      const res = await app.inject({ method: 'POST', url: '/graphql', headers: h, payload: { query: `{ ${q} { rows { windowStart status } totals { billed } } }` } })
      const body = res.json() as { errors?: { extensions?: { code?: string } }[] }
      const codes = (body.errors ?? []).map((e) => e.extensions?.code)
      t.ok(res.statusCode < 500 && !codes.includes('INTERNAL_SERVER_ERROR'), `${what}, GraphQL ${q.slice(0, 100)}: ${res.statusCode} ${res.body.slice(0, 200)}`)
    }
  }

  await probe('no bills')

  // A bill of twenty years starting inside the range: ingest refuses periods over 31 days, so it is one
  // stored before that bound (written directly below); such a bill widens nothing.
  const long = await app.inject({
    method: 'POST',
    url: '/v1/billing/costs',
    headers: h,
    payload: {
      object: 'page',
      data: [
        { object: 'bucket', start_time: DAY + 3600, end_time: DAY + 20 * YEAR, results: [{ object: 'organization.costs.result', amount: { value: '1', currency: 'usd' }, line_item: 'gpt-4o-mini, input', project_id: 'long' }] },
      ],
      has_more: false,
      next_page: null,
    },
  })
  t.equal(long.statusCode, 400, long.body)
  await app.testDb.query(sql`insert into billed_costs (tenant_id, provider, start_time, end_time, project_id, line_item, model, amount, currency, shape, key_hash, source)
    values (${tenantId}, 'openai', ${new Date((DAY + 3600) * 1000).toISOString()}::timestamptz, ${new Date((DAY + 20 * YEAR) * 1000).toISOString()}::timestamptz,
      'long', 'gpt-4o-mini, input', 'gpt-4o-mini', 1, 'USD', 'project_id,line_item', '\\x00'::bytea, 'openai_api')`)
  await probe('a bill of twenty years')
  const res = await app.inject({ url: `/v1/reconciliation?from=${DAY}&to=${DAY + 86_400}`, headers: h })
  t.ok(res.statusCode < 500, `the long bill, a day's range: ${res.statusCode} ${res.body.slice(0, 300)}`)
})
