import t from 'tap'
import { bearer, build, eachEngine, isProblem, tenantWithKey } from '../helpers.js'

/**
 * `tolerance` has one definition for both faces: a decimal ≥ 0 in plain notation of at most 100
 * characters. REST capped its length in the query schema and GraphQL did not, so a 101-digit tolerance
 * was a 400 over REST and a page over GraphQL; now the service checks it, and one table of inputs gets
 * the same answer from both.
 */

const FROM = '2025-10-01T00:00:00Z'
const TO = '2025-10-02T00:00:00Z'
const QUERY = `query($tolerance: Decimal) { reconciliation(from: "${FROM}", to: "${TO}", tolerance: $tolerance) { totals { difference } } }`

const ACCEPTED = ['0', '0.000001', '00.5', '1000000', `0.${'0'.repeat(97)}1`, '9'.repeat(100)]
const REFUSED = ['-1', '-0', '1e5', '1e-30', '1E5', ' 1', '1 ', '+1', '.5', '5.', '', '\u0000', '1\u0000', 'NaN', 'Infinity', '0x10', '1,5', `0.${'0'.repeat(98)}1`, '1'.repeat(101), '1'.repeat(100_000)]

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key } = await tenantWithKey(app, ['ingest', 'read'])
  const h = bearer(key)
  const rest = (tolerance: string) => app.inject({ method: 'GET', url: '/v1/reconciliation', query: { from: FROM, to: TO, tolerance }, headers: h })
  const graphql = async (tolerance: string) => {
    const res = await app.inject({ method: 'POST', url: '/graphql', headers: h, payload: { query: QUERY, variables: { tolerance } } })
    return res.json() as { data?: unknown; errors?: { message: string; extensions?: { code?: string } }[] }
  }

  t.test('values both faces accept', async (t) => {
    for (const tolerance of ACCEPTED) {
      const r = await rest(tolerance)
      t.equal(r.statusCode, 200, `REST ${tolerance.slice(0, 20)} (${tolerance.length})`)
      const g = await graphql(tolerance)
      t.equal(g.errors, undefined, `GraphQL ${tolerance.slice(0, 20)} (${tolerance.length})`)
    }
  })

  t.test('values both faces refuse, naming tolerance', async (t) => {
    for (const tolerance of REFUSED) {
      const what = JSON.stringify(tolerance.slice(0, 20)) + ` (${tolerance.length})`
      // A 100,000-character query string is over the HTTP header limit before it reaches the route.
      if (tolerance.length < 1000) {
        const r = await rest(tolerance)
        t.equal(r.statusCode, 400, `REST ${what}`)
        t.ok(isProblem(r), `REST ${what} is a problem`)
        t.match(r.json(), { errors: [{ path: 'querystring.tolerance' }] }, `REST ${what} names tolerance`)
      }
      const g = await graphql(tolerance)
      t.equal(g.data === undefined || g.data === null || (g.data as { reconciliation: unknown }).reconciliation === null, true, `GraphQL ${what}: no page`)
      t.match(g.errors, [{ extensions: { code: 'BAD_USER_INPUT' } }], `GraphQL ${what}`)
      // NUL is refused for every GraphQL string before any resolver; that error names the variable in its extensions.
      t.match(JSON.stringify(g.errors), /tolerance/, `GraphQL ${what} names tolerance`)
    }
  })
})
