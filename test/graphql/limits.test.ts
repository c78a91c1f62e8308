import { Lexer, Source, TokenKind } from 'graphql'
import t, { type Test } from 'tap'
import { admin, bearer, build, eachEngine, isProblem, tenantWithKey } from '../helpers.js'
import { seedCard } from '../factories/usage.js'

const Q = `query($from: DateTime!, $to: DateTime!, $window: Window, $tz: String, $first: Int, $card: String, $groupBy: [UsageDimension!], $after: String) {
  usage(from: $from, to: $to, window: $window, timeZone: $tz, first: $first, rateCard: $card, groupBy: $groupBy, after: $after) {
    rows { windowStart inputTokens } pageInfo { hasNextPage endCursor } } }`

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine, { MAX_RESULT_CELLS: '50', GRAPHQL_MAX_DEPTH: '3' })
  const { key, tenantId } = await tenantWithKey(app, ['read'])
  const ingestOnly = await tenantWithKey(app, ['ingest'])
  const card = `limits-${tenantId}`
  await seedCard(app.testDb, card, [])
  const base = { from: '2025-10-01T00:00:00Z', to: '2025-10-02T00:00:00Z', card }

  const ask = async (variables: Record<string, unknown>, query = Q) => {
    const res = await app.inject({ method: 'POST', url: '/graphql', headers: bearer(key), payload: { query, variables } })
    return res.json() as { data?: unknown; errors?: { message: string; extensions?: { code?: string } }[] }
  }
  const expectBadInput = async (t: Test, variables: Record<string, unknown>, pattern: RegExp) => {
    const res = await ask(variables)
    t.equal(res.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT', JSON.stringify(res.errors))
    t.match(res.errors?.[0]?.message, pattern)
  }

  t.test('first above 1000 is BAD_USER_INPUT', (t) => expectBadInput(t, { ...base, first: 1001 }, /between 0 and 1000/))
  t.test('an unknown time zone is BAD_USER_INPUT', (t) => expectBadInput(t, { ...base, tz: 'Mars/Olympus' }, /IANA/))
  t.test('a POSIX-style zone is refused (PostgreSQL inverts its sign)', (t) => expectBadInput(t, { ...base, tz: 'UTC+3' }, /IANA/))
  t.test('to ≤ from is BAD_USER_INPUT', (t) => expectBadInput(t, { ...base, to: base.from }, /later than/))
  t.test('an unknown rate card is BAD_USER_INPUT', (t) => expectBadInput(t, { ...base, card: 'no-such-card' }, /rate card "no-such-card"/))
  t.test('a malformed DateTime is BAD_USER_INPUT', async (t) => {
    const res = await ask({ ...base, from: 'yesterday' })
    t.ok(res.errors?.length)
    t.match(res.errors?.[0]?.message, /RFC 3339/)
  })
  t.test('too many windows are refused before touching the database', (t) =>
    expectBadInput(t, { ...base, to: '2025-10-03T00:00:00Z', window: 'MINUTE' }, /windows, more than the limit of 50/))
  t.test('a forged cursor is BAD_USER_INPUT', (t) => expectBadInput(t, { ...base, after: 'bm9wZQ' }, /cursor is not valid/))

  // A doubling chain of fragments (F1 spreads F0 twice, … F50 spreads F49 twice): 2 KB that expands to
  // 2^50 selections. Expanding it froze the server (event loop blocked for minutes, 2.8 GB) — first the
  // root-field check, then graphql-jit compiling the query on its second request. Every check treats a
  // fragment once, and an operation selecting more than 1,000 fields once expanded is refused.
  const chain = (on: string, depth: number, leaf: string) =>
    Array.from({ length: depth }, (_, i) => `fragment F${i + 1} on ${on} { ...F${i} ...F${i} }`).join(' ') + ` fragment F0 on ${on} { ${leaf} }`
  const refusedBomb = async (t: Test, query: string) => {
    for (const round of [1, 2, 3]) {
      const res = await ask(base, query)
      t.equal(res.errors?.[0]?.extensions?.code, 'GRAPHQL_VALIDATION_FAILED', `request ${round}`)
      t.match(res.errors?.[0]?.message, /selects (\d{13,}|1\.\de\+\d+) fields once its fragments are expanded; the limit is 1000/)
    }
  }
  t.test('a fragment bomb at the root is refused, not expanded', (t) => refusedBomb(t, `{ ...F50 } ${chain('Query', 50, '__typename')}`))
  t.test('a fragment bomb inside usage rows is refused, not expanded', (t) =>
    refusedBomb(t, `query($from: DateTime!, $to: DateTime!, $card: String) { usage(from: $from, to: $to, window: DAY, rateCard: $card) { rows { ...F40 } } } ${chain('UsageRow', 40, 'inputTokens')}`))
  t.test('fragments spread many times within the bound are served, also once compiled', async (t) => {
    // 2^8 = 256 selections of one field: far below the bound, merged by GraphQL into one.
    const query = `query($from: DateTime!, $to: DateTime!, $card: String) { usage(from: $from, to: $to, window: DAY, rateCard: $card) { rows { ...F8 } pageInfo { hasNextPage } } } ${chain('UsageRow', 8, 'inputTokens')}`
    for (const round of [1, 2, 3]) t.same(await ask(base, query), { data: { usage: { rows: [], pageInfo: { hasNextPage: false } } } }, `request ${round}`)
  })

  // A query text costs the parser (on the event loop) and the document cache whatever its size: graphql-js
  // stops at 5,000 tokens, so a long text is refused after bounded work (src/graphql/parse-limits.ts).
  const tokens = (query: string) => {
    const lexer = new Lexer(new Source(query))
    let n = 0
    while (lexer.advance().kind !== TokenKind.EOF) n++
    return n
  }
  // Each aliased field with a directive is 10 tokens: `f1: inputTokens @include(if: true)`.
  const manyFields = (n: number) =>
    `query($from: DateTime!, $to: DateTime!, $card: String) { usage(from: $from, to: $to, window: DAY, rateCard: $card) { rows { ${Array.from({ length: n }, (_, i) => `f${i}: inputTokens @include(if: true)`).join(' ')} } } }`
  t.test('a query of more than 5,000 tokens is a parse error, also when sent again', async (t) => {
    const query = manyFields(600)
    t.ok(tokens(query) > 6000, `${tokens(query)} tokens`)
    for (const round of [1, 2, 3]) {
      const res = await app.inject({ method: 'POST', url: '/graphql', headers: bearer(key), payload: { query, variables: base } })
      t.equal(res.statusCode, 400, `request ${round}`)
      const err = (res.json() as { errors: { message: string; extensions: { code: string } }[] }).errors[0]!
      t.equal(err.extensions.code, 'GRAPHQL_PARSE_FAILED')
      t.match(err.message, /5000 tokens/)
    }
  })
  t.test('a query just under 5,000 tokens is served, also once compiled', async (t) => {
    const query = manyFields(495)
    t.ok(tokens(query) > 4900 && tokens(query) <= 5000, `${tokens(query)} tokens`)
    for (const round of [1, 2, 3]) t.same(await ask(base, query), { data: { usage: { rows: [] } } }, `request ${round}`)
  })

  t.test('queries deeper than the limit are refused', async (t) => {
    const res = await ask(base, `query($from: DateTime!, $to: DateTime!, $card: String) { usage(from: $from, to: $to, rateCard: $card) { rows { cost { total } } } }`)
    t.ok(res.errors?.length, 'depth error')
  })

  t.test('/graphql answers 401 and 403 as HTTP problem+json before execution', async (t) => {
    const payload = { query: '{ __typename }' }
    const none = await app.inject({ method: 'POST', url: '/graphql', payload })
    t.equal(none.statusCode, 401)
    t.ok(isProblem(none))
    const wrongScope = await app.inject({ method: 'POST', url: '/graphql', headers: bearer(ingestOnly.key), payload })
    t.equal(wrongScope.statusCode, 403)
    t.ok(isProblem(wrongScope))
    const adminNoTenant = await app.inject({ method: 'POST', url: '/graphql', headers: admin, payload })
    t.equal(adminNoTenant.statusCode, 400)
    const adminAsTenant = await app.inject({ method: 'POST', url: '/graphql', headers: { ...admin, 'x-tenant-id': tenantId }, payload })
    t.equal(adminAsTenant.statusCode, 200)
    const otherTenant = await app.inject({ method: 'POST', url: '/graphql', headers: { ...bearer(key), 'x-tenant-id': ingestOnly.tenantId }, payload })
    t.equal(otherTenant.statusCode, 403)
  })
})
