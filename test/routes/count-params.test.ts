import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

// A page size is decimal digits: z.coerce.number read `0x10` as 16, `1e1` as 10 and ` 7` as 7 — values
// OpenAI refuses and no client means — on the mirrors' `limit`, the alerts' `limit` and reconciliation's `first`.

const RANGE = 'start_time=2025-10-01T00:00:00Z&end_time=2025-10-03T00:00:00Z'
const ROUTES = [
  { path: `/v1/organization/usage/completions?${RANGE}`, param: 'limit' },
  { path: `/v1/organization/costs?${RANGE}`, param: 'limit' },
  { path: '/v1/budgets/team/alerts?', param: 'limit' },
  { path: '/v1/reconciliation?from=2025-10-01T00:00:00Z&to=2025-10-03T00:00:00Z', param: 'first' },
]

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key } = await tenantWithKey(app, ['ingest', 'read'])
  const put = await app.inject({ method: 'PUT', url: '/v1/budgets/team', headers: bearer(key), payload: { amount: '100', period: 'month', thresholds: [50] } })
  t.equal(put.statusCode, 201, put.body)
  const get = (url: string) => app.inject({ method: 'GET', url, headers: bearer(key) })

  for (const { path, param } of ROUTES) {
    const sep = path.endsWith('?') ? '' : '&'
    t.equal((await get(path)).statusCode, 200, `${path.split('?')[0]} without ${param}: its default`)
    t.equal((await get(`${path}${sep}${param}=2`)).statusCode, 200, `${param}=2`)
    for (const bad of ['0x10', '1e1', '%207', '2.0', '-1', '']) {
      const res = await get(`${path}${sep}${param}=${bad}`)
      t.equal(res.statusCode, 400, `${path.split('?')[0]} ${param}=${bad}`)
      t.match(res.json(), { errors: [{ path: `querystring.${param}` }] }, 'names the parameter')
    }
  }
})
