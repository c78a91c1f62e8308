import { Decimal } from 'decimal.js'
import t, { type Test } from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'
import { dataset, RATES } from '../factories/dataset.js'
import { addCost, expectedCost, findRate, localDate, zeroCost, type ExpectedCost } from '../factories/expected.js'
import { inputOf, seedBuckets, seedCard, type SeedBucket } from '../factories/usage.js'

// Every dimension alone, and every window, against plain loops over the generated rows.
const DIMS: [string, string, (b: SeedBucket) => unknown][] = [
  ['PROVIDER', 'provider', (b) => b.provider ?? 'openai'],
  ['ACCOUNT', 'accountId', (b) => b.accountId ?? null],
  ['PROJECT', 'projectId', (b) => b.projectId ?? null],
  ['API_KEY', 'apiKeyId', (b) => b.apiKeyId ?? null],
  ['USER', 'userId', (b) => b.userId ?? null],
  ['MODEL', 'model', (b) => b.model],
  ['SERVICE_TIER', 'serviceTier', (b) => b.serviceTier ?? 'default'],
  ['BATCH', 'batch', (b) => b.batch ?? null],
  ['SOURCE', 'source', (b) => b.source ?? 'api'],
]
const TZ = 'America/New_York'
const localParts = (d: Date) =>
  Object.fromEntries(new Intl.DateTimeFormat('en-US', { timeZone: TZ, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', weekday: 'short', hour: '2-digit', minute: '2-digit' }).formatToParts(d).map((p) => [p.type, p.value]))
const WINDOWS: [string, (d: Date) => string][] = [
  ['MINUTE', (d) => String(Math.floor(d.getTime() / 60_000))],
  ['HOUR', (d) => String(Math.floor(d.getTime() / 3_600_000))], // New York's offsets are whole hours
  ['DAY', (d) => localDate(d, TZ)],
  ['WEEK', (d) => {
    const back = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'].indexOf(localParts(d).weekday!)
    return localDate(new Date(Date.parse(`${localDate(d, TZ)}T12:00:00Z`) - back * 86_400_000), 'UTC')
  }],
  ['MONTH', (d) => { const p = localParts(d); return `${p.year}-${p.month}` }],
  ['TOTAL', () => 'all'],
]

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key, tenantId } = await tenantWithKey(app, ['read'])
  const rows = dataset(11, 160)
  await seedBuckets(app.testDb, tenantId, rows)
  const card = `dims-${tenantId}`
  const ids = await seedCard(app.testDb, card, RATES.map((r) => ({ ...r, recordedAt: new Date('2025-01-01T00:00:00Z') })))
  const rates = RATES.map((r, i) => ({ ...r, id: ids[i]!, recordedAt: new Date('2025-01-01T00:00:00Z') }))
  const from = new Date('2025-10-01T04:00:00Z')
  const to = new Date('2025-12-01T05:00:00Z')

  const query = async (window: string, groupBy: string[], field?: string) => {
    const res = await app.inject({
      method: 'POST', url: '/graphql', headers: bearer(key),
      payload: {
        query: `query($from: DateTime!, $to: DateTime!, $w: Window, $g: [UsageDimension!], $card: String) {
          usage(from: $from, to: $to, window: $w, timeZone: "${TZ}", groupBy: $g, rateCard: $card, first: 1000) {
            rows { windowStart ${field ?? ''} inputTokens cost { total unpricedTokens } } } }`,
        variables: { from, to, w: window, g: groupBy, card },
      },
    })
    const body = res.json() as { data?: { usage: { rows: Record<string, unknown>[] } }; errors?: unknown }
    if (body.errors) throw new Error(JSON.stringify(body.errors))
    return body.data!.usage.rows
  }
  const check = (t: Test, got: Record<string, unknown>[], keyOf: (b: SeedBucket) => string, keyOfRow: (r: Record<string, unknown>) => string) => {
    const expected = new Map<string, { input: number; cost: ExpectedCost }>()
    for (const b of rows) {
      const k = keyOf(b)
      const e = expected.get(k) ?? { input: 0, cost: zeroCost() }
      e.input += inputOf(b)
      e.cost = addCost(e.cost, expectedCost(b, findRate(b, rates, new Date())))
      expected.set(k, e)
    }
    t.equal(got.length, expected.size, 'one row per group')
    for (const r of got) {
      const e = expected.get(keyOfRow(r))
      if (!t.ok(e, `group ${keyOfRow(r)}`)) continue
      t.equal(r.inputTokens, e!.input)
      const cost = r.cost as { total: string; unpricedTokens: number }
      t.ok(new Decimal(cost.total).equals(e!.cost.total), `${keyOfRow(r)} cost`)
      t.equal(cost.unpricedTokens, e!.cost.unpriced)
    }
  }

  for (const [dim, field, value] of DIMS) {
    t.test(`groupBy ${dim}`, async (t) => {
      check(t, await query('TOTAL', [dim], field), (b) => JSON.stringify(value(b)), (r) => JSON.stringify(r[field]))
    })
  }
  for (const [window, keyOf] of WINDOWS) {
    t.test(`window ${window}`, async (t) => {
      check(t, await query(window, []), (b) => keyOf(b.start), (r) => keyOf(new Date(r.windowStart as string)))
    })
  }
})
