import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

/**
 * A GET request carries its variables as JSON text in the `variables` query parameter. input-guard refuses
 * NUL (and lone surrogates, and nesting past 64 levels) in a POST's JSON body and raw NUL in a query
 * parameter, but a `\u0000` escaped inside that JSON text passed both: mercurius parsed it in its handler and
 * the string reached PostgreSQL inside a filter — an INTERNAL_SERVER_ERROR. GET variables are now read and
 * checked as a POST's are: a 400 BAD_USER_INPUT naming the value.
 */

const QUERY = `query($p: [String!]) { usage(from: "2025-10-01T00:00:00Z", to: "2025-10-02T00:00:00Z", window: DAY, filter: { projectIds: $p }) { rows { inputTokens } } }`

interface Answer { data: unknown; errors?: { message: string; extensions: { code: string; errors?: { path: string }[] } }[] }

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key } = await tenantWithKey(app, ['read'])
  const get = async (variables: string) => {
    const res = await app.inject({
      method: 'GET',
      url: `/graphql?query=${encodeURIComponent(QUERY)}&variables=${encodeURIComponent(variables)}`,
      headers: bearer(key),
    })
    return { status: res.statusCode, body: res.json() as Answer }
  }

  for (const [what, variables, path] of [
    ['a NUL', '{"p":["a\\u0000b"]}', 'querystring.variables.p.0'],
    ['a lone surrogate', '{"p":["a\\ud800b"]}', 'querystring.variables.p.0'],
    ['nesting past 64 levels', `{"p":${'['.repeat(100)}${']'.repeat(100)}}`, `querystring.variables.p${'.0'.repeat(63)}`],
  ] as const) {
    const res = await get(variables)
    t.equal(res.status, 400, `${what}: 400`)
    t.equal(res.body.data, null)
    t.equal(res.body.errors?.[0]?.extensions.code, 'BAD_USER_INPUT', `${what}: BAD_USER_INPUT, not an internal error`)
    t.same(res.body.errors?.[0]?.extensions.errors?.map((e) => e.path), [path], `${what}: names the value`)
  }

  const fine = await get('{"p":["proj_1"]}')
  t.equal(fine.status, 200)
  t.same(fine.body, { data: { usage: { rows: [] } } }, 'ordinary GET variables are served')
  const notJson = await get('{"p":')
  t.equal(notJson.status, 400, 'variables that are not JSON are a 400 (test/graphql/get-members-not-json.test.ts)')
})
