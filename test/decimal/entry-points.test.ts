import { Decimal } from 'decimal.js'
import t from 'tap'
import { parseAmount } from '../../src/billing/billed-row.js'
import { UsageInputError } from '../../src/errors.js'
import { canonicalDecimal, normalizeDecimal, SIGNED_PLAIN_DECIMAL } from '../../src/decimal/decimal-text.js'
import { decodeCursor, encodeCursor, queryHash } from '../../src/pagination/cursor.js'
import { decodePage, encodePage, paramsHash } from '../../src/usage/report/buckets.js'
import { decodeCursor as decodeGraphqlCursor, encodeCursor as encodeGraphqlCursor, queryHash as graphqlQueryHash } from '../../src/usage/usage-service.js'
import { admin, bearer, build, eachEngine, isProblem, tenantWithKey } from '../helpers.js'

/**
 * One table of decimal texts fed to every entry point that normalises one (the normaliser, the rate-card
 * canonicaliser, billed-cost amounts, rate-card prices over REST), checked against decimal.js; and one
 * table of cursors fed to both page decoders (GraphQL `after`, REST `page`).
 */
const DECIMALS = ['0', '0.000', '-0.0', '002.500', '0.34090000000000000', '10', '010.50', '-3.1400', '123456789012345678901234567890.000000000000000000001', ' 7.70 ']
const NOT_DECIMALS = ['', '1e-6', '.5', '5.', '+1', '1,5', 'NaN', '0x10', '1 2']
const oracle = (text: string) => {
  const d = new Decimal(text.trim())
  return d.isZero() ? '0' : d.toFixed()
}

t.test('every normalising entry point agrees with decimal.js on the table', async (t) => {
  for (const text of DECIMALS) {
    const want = oracle(text)
    t.equal(normalizeDecimal(text), want, `normalizeDecimal(${JSON.stringify(text)})`)
    const amount = parseAmount(text)
    t.same(amount, { ok: true, value: want }, `billed amount ${JSON.stringify(text)}`)
    if (text.trim() === text && !text.startsWith('-')) t.equal(canonicalDecimal(text), want, `canonicalDecimal(${text})`)
    else t.throws(() => canonicalDecimal(text), `canonicalDecimal refuses ${JSON.stringify(text)}`)
  }
  for (const text of NOT_DECIMALS) {
    t.throws(() => normalizeDecimal(text), `normalizeDecimal refuses ${JSON.stringify(text)}`)
    t.throws(() => canonicalDecimal(text), `canonicalDecimal refuses ${JSON.stringify(text)}`)
    t.equal(parseAmount(text).ok, false, `billed amount refuses ${JSON.stringify(text)}`)
  }
})

const ASOF = new Date('2026-01-01T00:00:00Z')
const forged = (fields: unknown, prefix = '') => `${prefix}${Buffer.from(JSON.stringify(fields)).toString('base64url')}`
const BAD_CURSORS: [string, string][] = [
  ['not base64 JSON', '!!!'],
  ['an array', forged([1, 2])],
  ['null', forged(null)],
  ['a negative offset', forged({ o: -1, s: -1, a: ASOF.getTime() })],
  ['an instant past 9999', forged({ o: 0, s: 0, a: 253_402_300_800_000 })],
  ['a fractional offset', forged({ o: 1.5, s: 1.5, a: ASOF.getTime() })],
]

t.test('both cursor decoders round-trip their own cursors through the one codec', async (t) => {
  const gqlHash = graphqlQueryHash({ first: 10, after: 'x', from: 'a', to: 'b' } as { first: number; after: string })
  t.equal(gqlHash, queryHash({ from: 'a', to: 'b' }, []), 'GraphQL ignores first/after')
  t.same(decodeGraphqlCursor(encodeGraphqlCursor(40, gqlHash, ASOF), gqlHash), { offset: 40, asOf: ASOF })
  const restHash = paramsHash({ start_time: 1, page: 'p', limit: 7 })
  t.equal(restHash, queryHash({ start_time: 1 }, []), 'REST ignores page/limit')
  t.same(decodePage(encodePage(1_767_225_600, ASOF, restHash), restHash), { start: 1_767_225_600, asOf: ASOF })
  t.same(decodeCursor(encodeCursor({ x: 1 }, 'p_'), 'p_'), { x: 1 })
  t.equal(decodeCursor(encodeCursor({ x: 1 }), 'p_'), undefined, 'a missing prefix is not our cursor')
})

t.test('both cursor decoders refuse the same forged cursors', async (t) => {
  const cases: [string, string][] = [...BAD_CURSORS, ['another query', forged({ o: 0, s: 0, a: ASOF.getTime(), h: 'other' })]]
  for (const [what, text] of cases) {
    t.throws(() => decodeGraphqlCursor(text, 'h'), new UsageInputError('after', 'the cursor is not valid for this query; start again without `after`'), `GraphQL refuses ${what}`)
    t.equal(decodePage(`page_${text}`, 'h'), undefined, `REST refuses ${what}`)
  }
})

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  t.test('rate-card prices come back in the one canonical form', async (t) => {
    const card = `decimals-${engine}`
    t.equal((await app.inject({ method: 'PUT', url: `/v1/rate-cards/${card}`, headers: admin, payload: {} })).statusCode, 201)
    // Prices have a length limit of their own (the long row is a money amount, not a per-token price).
    const priced = DECIMALS.filter((d) => d.trim() === d && !d.startsWith('-') && d.length < 30)
    const rates = priced.map((input, i) => ({ model: `m${i}`, effective_from: 1735689600, prices: { input }, source: 'test' }))
    const res = await app.inject({ method: 'POST', url: `/v1/rate-cards/${card}/rates`, headers: admin, payload: { rates } })
    t.equal(res.statusCode, 201, res.body)
    t.same((res.json().rates as { prices: { input: string } }[]).map((r) => r.prices.input), priced.map(oracle))
  })

  t.test('a billed amount as a JSON number has the bound of its decimal text', async (t) => {
    // 1e120 and 1e-120 under one natural key were stored as exactly 1e120: the second was lost in the sum.
    const { key } = await tenantWithKey(app, ['ingest'])
    const result = (value: number) => ({ object: 'organization.costs.result', amount: { value, currency: 'usd' }, line_item: 'gpt-4o, input' })
    const page = (...values: number[]) => ({ object: 'page', data: [{ object: 'bucket', start_time: 1730419200, end_time: 1730505600, results: values.map(result) }] })
    const res = await app.inject({ method: 'POST', url: '/v1/billing/costs', headers: bearer(key), payload: page(1e120, 1e-120, 0.06) })
    t.equal(res.statusCode, 400, res.body)
    t.same((res.json().errors as { index: number; path: string }[]).map((e) => [e.index, e.path]), [[0, 'data.0.results.0.amount.value'], [1, 'data.0.results.1.amount.value']])
    t.equal(parseAmount(1e120).ok, false)
    t.same(parseAmount(1e99), { ok: true, value: `1${'0'.repeat(99)}` }, 'a number whose plain text fits is read exactly')
    const ok = await app.inject({ method: 'POST', url: '/v1/billing/costs', headers: bearer(key), payload: page(0.06, 1e-20) })
    t.equal(ok.statusCode, 200, ok.body)
  })

  t.test('GraphQL `after` and the REST `page` refuse every forged cursor of the table as 4xx', async (t) => {
    const { key } = await tenantWithKey(app, ['read'])
    const query = 'query($after: String) { usage(from: "2025-10-01T00:00:00Z", to: "2025-10-02T00:00:00Z", after: $after) { __typename } }'
    for (const [what, text] of BAD_CURSORS) {
      const gql = await app.inject({ method: 'POST', url: '/graphql', headers: bearer(key), payload: { query, variables: { after: text } } })
      const errors = (gql.json() as { errors?: { extensions?: { code?: string } }[] }).errors
      t.same(errors?.map((e) => e.extensions?.code), ['BAD_USER_INPUT'], `GraphQL refuses ${what}`)
      const rest = await app.inject({ method: 'GET', url: `/v1/organization/usage/completions?start_time=1759276800&page=page_${text}`, headers: bearer(key) })
      t.ok(rest.statusCode === 400 && isProblem(rest), `REST refuses ${what}: ${rest.statusCode} ${rest.body.slice(0, 200)}`)
    }
  })
})

t.test('normalizeDecimal agrees with decimal.js on generated texts, and refuses what is not a plain decimal', async (t) => {
  // Deterministic: a fixed linear congruential sequence, so a failure names an input that reproduces.
  let seed = 12_345
  const next = (n: number) => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31
    // The high bits: an LCG's low bits repeat with short periods.
    return Math.floor(seed / 2 ** 16) % n
  }
  const digits = (max: number) => Array.from({ length: next(max) }, () => (next(3) === 0 ? '0' : String(next(10)))).join('')
  const pad = () => [' ', '\t', '', '', ''][next(5)]!
  let [checked, refused] = [0, 0]
  for (let i = 0; i < 20_000; i++) {
    const text = `${pad()}${next(3) === 0 ? '-' : ''}${digits(8)}${next(2) ? `.${digits(8)}` : ''}${pad()}`
    const plain = SIGNED_PLAIN_DECIMAL.test(text.trim())
    if (plain) {
      checked++
      if (normalizeDecimal(text) !== oracle(text)) t.fail(`normalizeDecimal(${JSON.stringify(text)}) = ${normalizeDecimal(text)}, decimal.js ${oracle(text)}`)
    } else {
      refused++
      let threw = false
      try {
        normalizeDecimal(text)
      } catch {
        threw = true
      }
      if (!threw) t.fail(`normalizeDecimal accepted ${JSON.stringify(text)}`)
    }
  }
  t.ok(checked > 5_000 && refused > 1_000, `${checked} plain decimals agreed with decimal.js, ${refused} others were refused`)
  for (const text of ['1.2.3', '--1', '-', '1-', '١٢', '１', '0.5e1', '1_000', '\u00001'])
    t.throws(() => normalizeDecimal(text), `refuses ${JSON.stringify(text)}`)
})
