import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

// GraphQL over HTTP: a client whose Accept asks for application/graphql-response+json (GraphiQL's fetcher
// does) was answered application/json. It now gets the type it asked for when it prefers it; everyone
// else keeps application/json, and problems stay application/problem+json.
const GQL = 'application/graphql-response+json; charset=utf-8'
const JSON_TYPE = 'application/json; charset=utf-8'

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key } = await tenantWithKey(app, ['read'])
  const post = (accept: string | undefined, query: string, auth = true) =>
    app.inject({
      method: 'POST',
      url: '/graphql',
      headers: { ...(auth ? bearer(key) : {}), 'content-type': 'application/json', ...(accept === undefined ? {} : { accept }) },
      payload: { query },
    })

  t.test('the type follows Accept', async (t) => {
    for (const [accept, type] of [
      ['application/graphql-response+json', GQL],
      ['application/graphql-response+json, application/json', GQL],
      ['application/json;q=0.9, application/graphql-response+json', GQL],
      ['application/graphql-response+json;q=0.5, application/json', JSON_TYPE],
      ['application/graphql-response+json;q=0', JSON_TYPE],
      ['application/json', JSON_TYPE],
      ['*/*', JSON_TYPE],
      [undefined, JSON_TYPE],
    ] as const) {
      const res = await post(accept, '{ __typename }')
      t.equal(res.statusCode, 200, `${accept}: ${res.body}`)
      t.equal(res.headers['content-type'], type, String(accept))
      t.same(res.json(), { data: { __typename: 'Query' } }, `${accept}: the same body`)
    }
  })

  t.test('request errors keep their 4xx in the asked-for type; GET too', async (t) => {
    const parse = await post('application/graphql-response+json', '{ usage(')
    t.equal(parse.statusCode, 400)
    t.equal(parse.headers['content-type'], GQL)
    t.match(parse.json(), { errors: [{ extensions: { code: 'GRAPHQL_PARSE_FAILED' } }] })
    const invalid = await post('application/graphql-response+json', '{ nope }')
    t.equal(invalid.statusCode, 400)
    t.equal(invalid.headers['content-type'], GQL)
    const get = await app.inject({ method: 'GET', url: '/graphql?query=%7B__typename%7D', headers: { ...bearer(key), accept: 'application/graphql-response+json' } })
    t.equal(get.statusCode, 200, get.body)
    t.equal(get.headers['content-type'], GQL)
  })

  t.test('problems answered before GraphQL stay application/problem+json', async (t) => {
    const res = await post('application/graphql-response+json', '{ __typename }', false)
    t.equal(res.statusCode, 401)
    t.match(res.headers['content-type'], /^application\/problem\+json/)
  })
})
