import t from 'tap'
import { clearOfMonthTurn } from '../factories/turns.js'
import { engines } from '../helpers.js'
import { call, freshPostgres, startServer, tenantOver } from '../connections/support/server-process.js'

/**
 * A budget read without `at` is "now" by the database's clock, which records crossings: a server process
 * whose own clock runs 40 days ahead showed next month as the current period (and hid this month's
 * crossings); one behind hid a crossing recorded in the last moments. The process's clock is skewed by a
 * preload (every `Date` it makes), as a badly synchronised host's would be.
 */
const SKEW_MS = 40 * 86_400_000
const SKEWED_CLOCK = `const skew = Number(process.env.TL_TEST_CLOCK_SKEW_MS); const Real = Date;
globalThis.Date = class extends Real { constructor(...a) { if (a.length === 0) super(Real.now() + skew); else super(...a) } static now() { return Real.now() + skew } }`

const monthStart = (ms: number) => {
  const d = new Date(ms)
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1)).toISOString()
}

void t.test('PostgreSQL: a budget read without `at` is in the period the database says is current, whatever the instance\'s clock', { skip: !engines().includes('postgres') && 'PostgreSQL only (embedded PGlite reads the process\'s own clock)' }, async (t) => {
  // Read first, clear of a month's end: the server answers with the month of the database's clock at each
  // request, seconds after this reading (a month turning between them failed the four period assertions).
  const real = (await clearOfMonthTurn(60_000)).getTime()
  const { url } = await freshPostgres(t)
  const server = startServer(t, { DATABASE_URL: url, NODE_OPTIONS: `--import=data:text/javascript,${encodeURIComponent(SKEWED_CLOCK)}`, TL_TEST_CLOCK_SKEW_MS: String(SKEW_MS) })
  const base = await server.url
  const { headers } = await tenantOver(base)
  const logged = server.stdout().split('\n').filter((l) => l.startsWith('{')).map((l) => (JSON.parse(l) as { time: number }).time)
  t.ok(logged.length > 0 && logged.every((time) => time - real > SKEW_MS - 60_000), 'the server process\'s clock is 40 days ahead (its log lines\' times)')
  t.not(monthStart(real), monthStart(real + SKEW_MS), 'so its "now" is in another month')

  const put = await call(base, 'PUT', '/v1/budgets/monthly', headers, { amount: '100', period: 'month', time_zone: 'UTC', thresholds: [50] })
  t.equal(put.status, 201)
  t.equal(put.json.period_start, monthStart(real), 'PUT answers with the current month')
  t.equal((await call(base, 'GET', '/v1/budgets/monthly', headers)).json.period_start, monthStart(real), 'GET one: the current month')
  const list = (await call(base, 'GET', '/v1/budgets', headers)).json as unknown as { data: { period_start: string }[] }
  t.same(list.data.map((b) => b.period_start), [monthStart(real)], 'GET the list: the current month')
  const gql = (await call(base, 'POST', '/graphql', headers, { query: '{ budgets { periodStart } }' })).json as unknown as { data: { budgets: { periodStart: string }[] } }
  t.same(gql.data.budgets.map((b) => b.periodStart), [monthStart(real)], 'GraphQL: the current month')
  server.child.kill('SIGTERM')
  t.equal(await server.exit, 0)
})
