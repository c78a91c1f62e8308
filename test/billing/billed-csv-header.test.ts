import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

// A cost export whose header names a column twice is a 400 naming the column, as for the usage CSV. The
// header was read into a map that kept one of the two, so each data line "had more fields than the
// header": one problem per line (the first 1,000 of a large export) naming neither the column nor line 1.

const D = 1759276800

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key } = await tenantWithKey(app, ['ingest', 'read'])
  const post = (csv: string) => app.inject({ method: 'POST', url: '/v1/billing/costs', headers: { ...bearer(key), 'content-type': 'text/csv' }, payload: csv })

  const rows = Array.from({ length: 3 }, (_, i) => `${D},${D + 86_400},0.5,1.5,item ${i},a`).join('\n')
  const res = await post(`start_time,end_time,amount_value,amount_value,line_item,line_item\n${rows}\n`)
  t.equal(res.statusCode, 400, res.body)
  t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
  t.match(res.json(), {
    detail: 'the CSV header is not a cost export header',
    errors: [
      { line: 1, path: 'amount_value', message: 'column "amount_value" appears twice' },
      { line: 1, path: 'line_item', message: 'column "line_item" appears twice' },
    ],
    error_count: 2,
  })

  const missingToo = await post(`end_time,amount_value,\uFEFFend_time\n${D + 86_400},1,${D + 86_400}\n`)
  t.equal(missingToo.statusCode, 400, missingToo.body)
  t.match(missingToo.json(), {
    errors: [
      { line: 1, path: 'end_time', message: 'column "end_time" appears twice' },
      { line: 1, path: 'start_time', message: 'the header has no start_time or start_time_iso column' },
    ],
    error_count: 2,
  }, 'every problem of the header is named')

  const stored = await app.testDb.query<{ n: number }>('select count(*)::int as n from billed_costs')
  t.same(stored, [{ n: 0 }], 'nothing written')
})
