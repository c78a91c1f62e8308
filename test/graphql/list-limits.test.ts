import t from 'tap'
import { MAX_FILTER_VALUES, MAX_GROUP_BY_KEYS } from '../../src/usage/dimensions.js'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

/**
 * GraphQL list arguments are bounded like the REST parameters (src/usage/dimensions.ts). Unbounded,
 * 3,000 label keys to group by passed PostgreSQL's column limit (54011: an INTERNAL_SERVER_ERROR) and
 * 200,000 models in four filters held a PostgreSQL backend at 2 GB for 20 s.
 */
interface Answer {
  data: unknown
  errors?: { message: string; extensions: { code: string; errors?: { path: string }[] } }[]
}

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key } = await tenantWithKey(app, ['ingest', 'read'])
  const ingest = await app.inject({
    method: 'POST', url: '/v1/usage/events', headers: bearer(key),
    payload: { events: [{ id: 'e1', timestamp: '2025-10-01T10:00:00Z', model: 'gpt-4o', input_tokens: 5, output_tokens: 1, labels: { team: 'a' } }] },
  })
  t.equal(ingest.statusCode, 200)
  const gql = async (query: string, variables: Record<string, unknown>) =>
    (await app.inject({ method: 'POST', url: '/graphql', headers: bearer(key), payload: { query, variables } })).json() as Answer
  const many = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => `${prefix}${i}`)
  const range = 'from: "2025-10-01T00:00:00Z", to: "2025-10-02T00:00:00Z", window: TOTAL'

  const labels = `query($l: [String!]) { usage(${range}, groupByLabels: $l) { totals { inputTokens } rows { labels { key value } } } }`
  const tooManyKeys = await gql(labels, { l: many(3000, 'k') })
  t.equal(tooManyKeys.errors?.[0]?.extensions.code, 'BAD_USER_INPUT', '3,000 label keys: a bad argument, not an internal error')
  t.match(tooManyKeys.errors?.[0]?.message, /groupByLabels.*at most 64/)
  const attrs = `query($l: [String!], $a: [String!]) { usage(${range}, groupBy: [RESOURCE], groupByLabels: $l, groupByAttributes: $a) { totals { inputTokens } } }`
  const together = await gql(attrs, { l: many(MAX_GROUP_BY_KEYS / 2, 'k'), a: many(MAX_GROUP_BY_KEYS / 2 + 1, 'a') })
  t.equal(together.errors?.[0]?.extensions.code, 'BAD_USER_INPUT', 'labels and attributes count together')
  const atLimit = await gql(labels, { l: ['team', ...many(MAX_GROUP_BY_KEYS - 1, 'k')] })
  t.equal(atLimit.errors, undefined, `${MAX_GROUP_BY_KEYS} label keys are served`)
  t.match(atLimit.data, { usage: { totals: { inputTokens: 5 } } })

  const filtered = `query($m: [String!], $p: [String!]) { usage(${range}, filter: { models: $m, projectIds: $p, sources: ["events"] }) { totals { inputTokens } } }`
  const tooManyValues = await gql(filtered, { m: many(MAX_FILTER_VALUES + 1, 'm'), p: many(20_000, 'p') })
  t.equal(tooManyValues.errors?.[0]?.extensions.code, 'BAD_USER_INPUT', 'an oversized filter list is a bad argument')
  t.match(tooManyValues.errors?.[0]?.message, /filter\.models lists 1001 values; at most 1000/, 'naming the models list')
  t.match(tooManyValues.errors?.[0]?.message, /filter\.projectIds lists 20000 values/, 'and the project list, in the same error')
  const served = await gql(filtered, { m: ['gpt-4o', ...many(MAX_FILTER_VALUES - 1, 'm')], p: null })
  t.same(served, { data: { usage: { totals: { inputTokens: 5 } } } }, `${MAX_FILTER_VALUES} values are served`)

  const events = await gql('query($a: [String!]) { events(period: ALL, filter: { agentIds: $a }) { totals { inputTokens } } }', { a: many(MAX_FILTER_VALUES + 1, 'a') })
  t.equal(events.errors?.[0]?.extensions.code, 'BAD_USER_INPUT', 'events: the same bound')
  const recon = await gql(`query($p: [String!]) { reconciliation(from: "2025-10-01T00:00:00Z", to: "2025-10-02T00:00:00Z", filter: { projectIds: $p }) { totals { computed } } }`, { p: many(MAX_FILTER_VALUES + 1, 'p') })
  t.equal(recon.errors?.[0]?.extensions.code, 'BAD_USER_INPUT', 'reconciliation: the same bound')
})
