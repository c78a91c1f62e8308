import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

/**
 * A GET's `variables` and `extensions` are JSON text in query parameters. Text that is not JSON was left to
 * mercurius's GET handler, whose problem named `body` (a GET has none), only the first bad parameter, and
 * said what the JSON parser said. It is now refused as GET's other envelope problems are
 * (test/graphql/get-variables-type.test.ts): 400 BAD_REQUEST naming `querystring.variables` /
 * `querystring.extensions`, every one that is wrong, before the query runs.
 */

const QUERY = '{ __typename }'

interface Answer { data: unknown; errors?: { extensions: { code: string; errors?: { path: string; message: string }[] } }[] }

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key } = await tenantWithKey(app, ['read'])
  const get = async (members: Record<string, string>) => {
    const res = await app.inject({
      method: 'GET',
      url: `/graphql?query=${encodeURIComponent(QUERY)}${Object.entries(members).map(([name, text]) => `&${name}=${encodeURIComponent(text)}`).join('')}`,
      headers: bearer(key),
    })
    return { status: res.statusCode, body: res.json() as Answer }
  }
  const VARIABLES = { path: 'querystring.variables', message: 'is not JSON text; must be object,null' }
  const EXTENSIONS = { path: 'querystring.extensions', message: 'is not JSON text; must be object' }

  for (const [what, members, problems] of [
    ['variables not JSON', { variables: '{"p":' }, [VARIABLES]],
    ['variables a bare word', { variables: 'proj_1' }, [VARIABLES]],
    ['extensions not JSON', { extensions: 'nope' }, [EXTENSIONS]],
    ['both not JSON', { variables: '{', extensions: '{' }, [VARIABLES, EXTENSIONS]],
    ['variables not JSON, extensions not an object', { variables: '{', extensions: '[1]' }, [VARIABLES, { path: 'querystring.extensions', message: 'must be object' }]],
    ['variables not an object, extensions not JSON', { variables: '1', extensions: '}' }, [{ path: 'querystring.variables', message: 'must be object,null' }, EXTENSIONS]],
  ] as const) {
    const res = await get(members)
    t.equal(res.status, 400, `${what}: 400`)
    t.equal(res.body.data, null, `${what}: the query did not run`)
    t.equal(res.body.errors?.[0]?.extensions.code, 'BAD_REQUEST', `${what}: BAD_REQUEST`)
    t.same(res.body.errors?.[0]?.extensions.errors, problems, `${what}: names each query parameter that is wrong`)
  }

  const fine = await get({ variables: '{}', extensions: '{}' })
  t.equal(fine.status, 200)
  t.same(fine.body, { data: { __typename: 'Query' } }, 'JSON objects are served')
})
