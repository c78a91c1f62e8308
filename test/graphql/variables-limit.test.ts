import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'
import { MAX_FILTER_VALUES } from '../../src/usage/dimensions.js'
import { MAX_VARIABLE_VALUES } from '../../src/graphql/variables-limit.js'

/**
 * graphql-js coerces every value of a list variable before a resolver can refuse the list for its length:
 * 5,000,000 project ids (20 MB) held the event loop for 5.6 s and 770 MB only to be answered "at most 1000".
 * Variables holding more than MAX_VARIABLE_VALUES values are refused first, as a 400 naming `variables`.
 */

const QUERY = `query($p: [String!], $f: UsageFilter) { usage(from: "2025-10-01T00:00:00Z", to: "2025-10-02T00:00:00Z", window: DAY, filter: $f) {
  rows { inputTokens } } a: usage(from: "2025-10-01T00:00:00Z", to: "2025-10-02T00:00:00Z", window: DAY, filter: { projectIds: $p }) { rows { inputTokens } } }`

interface Answer { data: unknown; errors?: { message: string; extensions: { code: string; errors?: { path: string; message: string }[] } }[] }

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key } = await tenantWithKey(app, ['ingest', 'read'])
  const ask = async (variables: unknown) => {
    const res = await app.inject({ method: 'POST', url: '/graphql', headers: bearer(key), payload: { query: QUERY, variables } })
    return { status: res.statusCode, body: res.json() as Answer }
  }
  const ids = (n: number) => Array.from({ length: n }, (_, i) => `proj_${i}`)

  const huge = await ask({ p: ids(MAX_VARIABLE_VALUES * 3) })
  t.equal(huge.status, 400)
  t.equal(huge.body.data, null)
  t.equal(huge.body.errors?.length, 1)
  t.equal(huge.body.errors?.[0]?.extensions.code, 'BAD_USER_INPUT')
  t.same(huge.body.errors?.[0]?.extensions.errors?.map((e) => e.path), ['variables'], 'names the variables, not a resolver argument')

  // Nested values count too: a filter object whose lists together pass the limit.
  const half = Math.ceil(MAX_VARIABLE_VALUES / 2) + 1
  const nested = await ask({ f: { projectIds: ids(half), apiKeyIds: ids(half) } })
  t.equal(nested.status, 400, 'values inside an input object are counted')
  t.equal(nested.body.errors?.[0]?.extensions.code, 'BAD_USER_INPUT')

  // Under the limit, the arguments' own checks answer as before; at their limits, the query runs.
  const long = await ask({ p: ids(MAX_FILTER_VALUES + 1) })
  t.equal(long.status, 200)
  t.match(long.body.errors?.[0]?.message, /at most 1000/, 'a list longer than its argument takes is still the argument’s problem')
  const fine = await ask({ p: ids(MAX_FILTER_VALUES), f: { projectIds: ids(MAX_FILTER_VALUES), models: ['gpt-5'] } })
  t.equal(fine.status, 200)
  t.equal(fine.body.errors, undefined, JSON.stringify(fine.body.errors))
})
