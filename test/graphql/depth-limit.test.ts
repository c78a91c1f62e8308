import { buildSchema, getIntrospectionQuery, parse, validate } from 'graphql'
import t from 'tap'
import { depthLimit } from '../../src/graphql/depth-limit.js'
import { loadSchema } from '../../src/graphql/index.js'

const schema = buildSchema(loadSchema())
const errorsAt = (limit: number, query: string) => validate(schema, parse(query), [depthLimit(limit)]).map((e) => e.message)

t.test('the standard introspection query (what GraphiQL sends) passes the default limit of 8', async (t) => {
  t.same(errorsAt(8, getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, inputValueDeprecation: true })), [])
})

t.test('each field counts one level; the limit itself is allowed', async (t) => {
  const q = '{ usage(from: "2025-01-01T00:00:00Z", to: "2025-01-02T00:00:00Z") { rows { cost { total } } } }'
  t.same(errorsAt(4, q), [])
  t.match(errorsAt(3, q), [/4 levels deep; the limit is 3/])
})

t.test('fragments and inline fragments add no level of their own, but their fields do', async (t) => {
  const q = `query Q { usage(from: "2025-01-01T00:00:00Z", to: "2025-01-02T00:00:00Z") { ...Page } }
    fragment Page on UsagePage { rows { ... on UsageRow { cost { total } } } }`
  t.same(errorsAt(4, q), [])
  t.match(errorsAt(3, q), [/Q operation is 4 levels deep/])
})

t.test('branching introspection still counts: fields → type → fields nests are refused', async (t) => {
  const q = '{ __schema { types { fields { type { fields { type { fields { type { name } } } } } } } } }'
  t.match(errorsAt(8, q), [/9 levels deep/])
})

t.test('a fragment spread many times is counted once (no exponential check)', async (t) => {
  const frags = Array.from({ length: 30 }, (_, i) => `fragment F${i} on Query { __typename ${i < 29 ? `...F${i + 1} ...F${i + 1}` : ''} }`)
  t.same(errorsAt(2, `{ ...F0 } ${frags.join('\n')}`), [])
})
