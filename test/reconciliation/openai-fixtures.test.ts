import { readFileSync } from 'node:fs'
import { Decimal } from 'decimal.js'
import t from 'tap'
import { bearer, build, eachEngine, fixturePath, tenantWithKey } from '../helpers.js'

/**
 * Done-when of #13, from the fixtures alone: the real usage export and the real cost export of the same
 * organization reconcile to MATCH on 2025-10-07, 10-10 and 10-11 (the days the usage sample is complete),
 * and the other days get the status that says why.
 */

const ORG = 'org-Hp9mSGev2sVmtMeF2wrnSeOV'

const QUERY = `query($groupBy: [ReconDimension!]) {
  reconciliation(from: "2025-10-05T00:00:00Z", to: "2025-10-13T00:00:00Z", groupBy: $groupBy) {
    rows { windowStart windowEnd provider accountId model lineItem computed billed difference status unpricedTokens }
    totals { computed billed difference unpricedTokens }
    pageInfo { hasNextPage endCursor }
  }
  usage(from: "2025-10-05T00:00:00Z", to: "2025-10-13T00:00:00Z", groupBy: [PROVIDER]) { rows { windowStart cost { total } } }
}`

interface Row {
  windowStart: string
  provider: string | null
  accountId: string | null
  model: string | null
  lineItem: string | null
  computed: string | null
  billed: string | null
  difference: string | null
  status: string
}

void eachEngine(t, async (t, engine) => {
  const usagePath = fixturePath(t, 'openai/completions_usage_2025-10-05_2025-10-12.sample.csv')
  const costsPath = fixturePath(t, 'openai/openai_costs_export_2025-10.sample.csv')
  if (!usagePath || !costsPath) return
  const app = await build(t, engine)
  const { key } = await tenantWithKey(app, ['ingest', 'read'])
  const csv = (url: string, body: string) => app.inject({ method: 'POST', url, headers: { ...bearer(key), 'content-type': 'text/csv' }, payload: body })
  t.equal((await csv(`/v1/usage/buckets?account_id=${ORG}`, readFileSync(usagePath, 'utf8'))).statusCode, 200)
  t.equal((await csv('/v1/billing/costs', readFileSync(costsPath, 'utf8'))).statusCode, 200)

  const res = await app.inject({ method: 'POST', url: '/graphql', headers: bearer(key), payload: { query: QUERY, variables: { groupBy: ['PROVIDER'] } } })
  const body = res.json() as { data: { reconciliation: { rows: Row[]; totals: Record<string, string> }; usage: { rows: { windowStart: string; cost: { total: string } }[] } }; errors?: unknown }
  t.equal(body.errors, undefined, JSON.stringify(body.errors))
  const { rows, totals } = body.data.reconciliation
  const status = Object.fromEntries(rows.map((r) => [r.windowStart.slice(0, 10), r.status]))
  t.same(status, {
    '2025-10-05': 'MISMATCH', // the usage sample lists one gpt-4o row of that day; the bill is larger
    '2025-10-06': 'MISMATCH',
    '2025-10-07': 'MATCH',
    '2025-10-08': 'BILLED_ONLY', // the usage export has a blank row that day
    '2025-10-10': 'MATCH',
    '2025-10-11': 'MATCH',
  })

  // Both sides independently: computed is what `usage` says for the day, billed is the export's amount.
  const computed = new Map(body.data.usage.rows.map((r) => [r.windowStart, r.cost.total]))
  const exportRows = readFileSync(costsPath, 'utf8').trim().split('\n').slice(1).map((l) => l.split(','))
  const billed = new Map(exportRows.filter((c) => c[4] !== '').map((c) => [new Date(Number(c[0]) * 1000).toISOString(), c[4]!]))
  for (const r of rows) {
    t.equal(r.computed, computed.get(r.windowStart) ?? null, `computed ${r.windowStart}`)
    t.ok(r.billed !== null && new Decimal(r.billed).eq(billed.get(r.windowStart)!), `billed ${r.windowStart}`)
    if (r.computed !== null) t.ok(new Decimal(r.difference!).eq(new Decimal(r.computed).minus(r.billed!)), `difference ${r.windowStart}`)
    t.equal(r.provider, 'openai')
  }
  const billedSum = [...billed.values()].reduce((a, v) => a.plus(v), new Decimal(0))
  t.ok(new Decimal(totals.billed!).eq(billedSum), 'billed total = the export')

  // A month (UTC) sums the days on both sides: the incomplete days make it a MISMATCH.
  const month = await app.inject({ method: 'GET', url: '/v1/reconciliation?from=2025-10-01T00:00:00Z&to=2025-11-01T00:00:00Z&window=MONTH&group_by=PROVIDER', headers: bearer(key) })
  const monthRows = (month.json() as { data: Record<string, string>[] }).data
  t.same(
    monthRows.map((r) => [r.window_start, r.window_end, r.computed, r.billed, r.status]),
    [['2025-10-01T00:00:00.000Z', '2025-11-01T00:00:00.000Z', totals.computed, totals.billed, 'MISMATCH']],
  )

  // The export has no line items: grouping by ACCOUNT, MODEL and LINE_ITEM collapses model and line item.
  const deep = await app.inject({ method: 'POST', url: '/graphql', headers: bearer(key), payload: { query: QUERY, variables: { groupBy: ['ACCOUNT', 'MODEL', 'LINE_ITEM'] } } })
  const deepRows = (deep.json() as { data: { reconciliation: { rows: Row[] } } }).data.reconciliation.rows
  t.same(
    deepRows.map((r) => [r.windowStart.slice(0, 10), r.accountId, r.model, r.lineItem, r.status]),
    ['05', '06', '07', '08', '10', '11'].map((d) => [`2025-10-${d}`, ORG, null, null, status[`2025-10-${d}`]]),
  )
})
