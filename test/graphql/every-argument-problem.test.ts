import t, { type Test } from 'tap'
import { bearer, build, eachEngine, isProblem, tenantWithKey } from '../helpers.js'

/**
 * Bad input names every problem in one answer: a query with several wrong arguments — some found
 * without the database (range, page size, sources, tolerance, window), some only with it (time zone,
 * rate card) or by the cursor — answers ONE error listing them all, in GraphQL (BAD_USER_INPUT,
 * `extensions.errors`) and in REST (a 400 problem naming each parameter), instead of the first alone.
 */

interface GqlError {
  message: string
  extensions: { code: string; argument?: string; errors?: { path: string; message: string }[] }
}

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key } = await tenantWithKey(app, ['read'])
  const gql = async (query: string) => {
    const res = await app.inject({ method: 'POST', url: '/graphql', headers: { ...bearer(key), 'content-type': 'application/json' }, payload: { query } })
    const body = res.json() as { data: unknown; errors?: GqlError[] }
    return { status: res.statusCode, errors: body.errors ?? [] }
  }
  /** The one error of a query, and the arguments it names. */
  const oneError = async (t: Test, query: string) => {
    const { status, errors } = await gql(query)
    t.equal(status, 200, 'an execution error: answered with data null')
    t.equal(errors.length, 1, JSON.stringify(errors))
    const e = errors[0]!
    t.equal(e.extensions.code, 'BAD_USER_INPUT')
    return { error: e, named: (e.extensions.errors ?? []).map((p) => p.path).sort() }
  }

  t.test('usage: five wrong arguments, checked with and without the database, in one error', async (t) => {
    const { error, named } = await oneError(t, `{ usage(from: "2025-10-02T00:00:00Z", to: "2025-10-01T00:00:00Z", first: 5000,
      filter: { sources: ["nope"] }, timeZone: "Mars/Olympus_Mons", rateCard: "no-such-card") { totals { inputTokens } } }`)
    t.same(named, ['filter.sources', 'first', 'rateCard', 'timeZone', 'to'])
    t.equal(error.extensions.argument, 'to', '`argument` still names the first')
    for (const part of ['`to` must be later', '`first` must be between', 'unknown source(s) nope', 'Mars/Olympus_Mons', 'no-such-card'])
      t.match(error.message, part, `the message says: ${part}`)
  })

  t.test('usage: the time zone and the card, both found in the database, in one error', async (t) => {
    const { named } = await oneError(t, `{ usage(from: "2025-10-01T00:00:00Z", to: "2025-10-02T00:00:00Z", timeZone: "Nowhere/City",
      rateCard: "no-such-card") { totals { inputTokens } } }`)
    t.same(named, ['rateCard', 'timeZone'])
  })

  t.test('usage: a cursor of another query beside a wrong time zone', async (t) => {
    // A well-formed cursor bound to some other query's hash.
    const cursor = Buffer.from(JSON.stringify({ o: 0, h: 'another-query', a: Date.now() })).toString('base64url')
    const { named } = await oneError(t, `{ usage(from: "2025-10-01T00:00:00Z", to: "2025-10-02T00:00:00Z", after: "${cursor}",
      timeZone: "Nowhere/City") { totals { inputTokens } } }`)
    t.same(named, ['after', 'timeZone'])
    const { named: withRange } = await oneError(t, `{ usage(from: "2025-10-02T00:00:00Z", to: "2025-10-01T00:00:00Z", after: "${cursor}",
      timeZone: "Nowhere/City") { totals { inputTokens } } }`)
    t.same(withRange, ['after', 'timeZone', 'to'], 'with a problem found before the database, too')
  })

  t.test('events: time zone, page size, range and card in one error', async (t) => {
    const { named } = await oneError(t, `{ events(from: "2025-10-02T00:00:00Z", to: "2025-10-01T00:00:00Z", first: -1,
      timeZone: "Nowhere/City", rateCard: "no-such-card") { totals { inputTokens } } }`)
    t.same(named, ['first', 'rateCard', 'timeZone', 'to'])
  })

  t.test('reconciliation: window, tolerance, range, page size and card in one error', async (t) => {
    const { named } = await oneError(t, `{ reconciliation(from: "2025-10-02T00:00:00Z", to: "2025-10-01T00:00:00Z", window: HOUR,
      tolerance: "-1", first: 5000, rateCard: "no-such-card") { totals { difference } } }`)
    t.same(named, ['first', 'rateCard', 'to', 'tolerance', 'window'])
  })

  t.test('REST reconciliation: every parameter in one 400 problem, by its REST name', async (t) => {
    const res = await app.inject({
      url: '/v1/reconciliation?from=2025-10-02T00:00:00Z&to=2025-10-01T00:00:00Z&tolerance=1e-6&rate_card=no-such-card&group_by=project',
      headers: bearer(key),
    })
    t.equal(res.statusCode, 400, res.body)
    t.ok(isProblem(res))
    const body = res.json() as { errors: { path: string }[]; error_count: number }
    t.same(body.errors.map((e) => e.path).sort(), ['querystring.rate_card', 'querystring.to', 'querystring.tolerance'])
    t.equal(body.error_count, 3)
  })

  t.test('one wrong argument is still one problem, worded as before', async (t) => {
    const { error, named } = await oneError(t, '{ usage(from: "2025-10-01T00:00:00Z", to: "2025-10-02T00:00:00Z", rateCard: "no-such-card") { totals { inputTokens } } }')
    t.same(named, ['rateCard'])
    t.notMatch(error.message, ';', 'no list separator')
  })
})
