import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

// Two costs of one request that overlap in time with different (start, end) are a 409 naming both. The
// search for the pair compared every row with every later row starting before its end, skipping rows of
// other accounts and of its own interval: a cost export of two organisations' line items on one day and one
// hourly row held the event loop for minutes (20,000 rows per organisation, 1.3 MB: 320 s) before its 409.

const D = 1759276800
const HEADER = 'start_time,end_time,amount_value,line_item,organization_id'

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key } = await tenantWithKey(app, ['ingest', 'read'])
  const post = (lines: string[]) =>
    app.inject({ method: 'POST', url: '/v1/billing/costs', headers: { ...bearer(key), 'content-type': 'text/csv' }, payload: [HEADER, ...lines].join('\n') + '\n' })

  await t.test('many rows of two accounts on one day and one overlapping hour: a prompt 409 naming the pair', async (t) => {
    const n = 12_000
    const lines: string[] = []
    for (const org of ['org-a', 'org-b']) for (let i = 0; i < n; i++) lines.push(`${D},${D + 86_400},0.5,item ${i},${org}`)
    lines.push(`${D + 7_200},${D + 10_800},1,hourly,org-b`)
    const started = Date.now()
    const res = await post(lines)
    const ms = Date.now() - started
    t.equal(res.statusCode, 409, res.body.slice(0, 300))
    // Line 1 is the header: org-b's first day row is line n + 2, the hourly row line 2n + 2.
    t.match(res.json(), { detail: new RegExp(`^the cost at line ${n + 2} \\(.*line_item=item 0,.*\\) overlaps the cost at line ${2 * n + 2} \\(.*line_item=hourly,`), errors: [{ line: 2 * n + 2, path: 'start_time' }] })
    t.ok(ms < 30_000, `answered in ${ms} ms (minutes before)`)
    const stored = await app.testDb.query<{ n: number }>('select count(*)::int as n from billed_costs')
    t.same(stored, [{ n: 0 }], 'nothing written')
  })

  await t.test('the overlap is found whatever the order and however many rows share an interval', async (t) => {
    const res = await post([`${D},${D + 86_400},1,a,org-c`, `${D},${D + 86_400},1,b,org-c`, `${D + 86_400},${D + 172_800},1,a,org-c`, `${D + 80_000},${D + 90_000},1,x,org-c`, `${D},${D + 86_400},1,c,org-c`])
    t.equal(res.statusCode, 409, res.body)
    t.match(res.json(), { detail: /^the cost at line 2 .* overlaps the cost at line 5 /, errors: [{ line: 5 }] })
    const ok = await post([`${D},${D + 86_400},1,a,org-c`, `${D + 86_400},${D + 172_800},1,a,org-c`, `${D},${D + 3_600},1,a,org-d`, `${D},${D + 86_400},1,b,org-c`])
    t.equal(ok.statusCode, 200, 'adjacent days, and another account’s hour, do not overlap: ' + ok.body)
  })
})
