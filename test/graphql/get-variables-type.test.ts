import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

/**
 * `variables` must be a JSON object (or null) by either method. mercurius's POST body schema refuses
 * anything else as a 400, but its GET handler ran the query with whatever the `variables` text parsed to —
 * an array, a string, a number, a boolean answered 200 with data. GET now refuses them with POST's own
 * problem, naming `querystring.variables` where POST names `body.variables`. And POST itself served `""`,
 * `0` and `false`: Fastify's ajv coerces them to null before checking the type. Both methods refuse them.
 * `extensions` likewise must be a JSON object (POST's schema: not even null; ajv does not coerce to an
 * object): GET served every other value, and now refuses it with POST's problem. Both wrong: both named.
 */

const QUERY = `query($p: [String!]) { usage(from: "2025-10-01T00:00:00Z", to: "2025-10-02T00:00:00Z", window: DAY, filter: { projectIds: $p }) { rows { inputTokens } } }`

interface Answer { data: unknown; errors?: { message: string; extensions: { code: string; requestId?: string; errors?: { path: string; message: string }[] } }[] }

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key } = await tenantWithKey(app, ['read'])
  const answer = (res: { statusCode: number; headers: Record<string, unknown>; json: () => unknown }) => {
    const body = res.json() as Answer
    // The request id differs per request; everything else must not.
    for (const e of body.errors ?? []) delete e.extensions.requestId
    return { status: res.statusCode, type: res.headers['content-type'], body }
  }
  /** The envelope's members as JSON text (`{variables: '[1]'}`), sent in a POST body or as GET parameters. */
  type Members = Partial<Record<'variables' | 'extensions', string>>
  const postMembers = async (members: Members) =>
    answer(await app.inject({
      method: 'POST',
      url: '/graphql',
      headers: { ...bearer(key), 'content-type': 'application/json' },
      payload: `{"query":${JSON.stringify(QUERY)}${Object.entries(members).map(([name, text]) => `,"${name}":${text}`).join('')}}`,
    }))
  const getMembers = async (members: Members) =>
    answer(await app.inject({
      method: 'GET',
      url: `/graphql?query=${encodeURIComponent(QUERY)}${Object.entries(members).map(([name, text]) => `&${name}=${encodeURIComponent(text)}`).join('')}`,
      headers: bearer(key),
    }))
  const post = async (variables: string) => postMembers({ variables })
  const get = async (variables: string) => getMembers({ variables })
  /** POST's answer with its body's names for the parameters, as GET must answer. */
  const asGet = <T>(byPost: T): T => JSON.parse(JSON.stringify(byPost).replace(/"body\.(variables|extensions)"/g, '"querystring.$1"')) as T

  for (const variables of ['["proj_1"]', '[]', '"proj_1"', '""', '1', '0', 'true', 'false']) {
    const [byPost, byGet] = [await post(variables), await get(variables)]
    t.equal(byPost.status, 400, `POST variables=${variables}: 400`)
    t.equal(byGet.status, 400, `GET variables=${variables}: 400, as POST`)
    t.equal(byGet.body.data, null, `GET variables=${variables}: the query did not run`)
    t.equal(byGet.body.errors?.[0]?.extensions.code, 'BAD_REQUEST')
    t.same(byGet.body.errors?.[0]?.extensions.errors?.map((e) => e.path), ['querystring.variables'], `GET variables=${variables}: names the parameter`)
    // POST's answer with its body's name for the parameter is GET's answer, word for word.
    t.same(byGet, asGet(byPost), `GET variables=${variables}: the same problem as POST`)
  }

  // An object or null is served by both, alike.
  for (const variables of ['{"p":["proj_1"]}', '{}', 'null']) {
    const [byPost, byGet] = [await post(variables), await get(variables)]
    t.equal(byGet.status, 200, `GET variables=${variables}: 200`)
    t.same(byGet.body, { data: { usage: { rows: [] } } }, `GET variables=${variables}: served`)
    t.same(byGet, byPost, `GET variables=${variables}: as POST`)
  }

  // `extensions`: an object only, by either method — POST's schema has no null, and ajv coerces nothing to an object.
  for (const extensions of ['["x"]', '[]', '"x"', '""', '1', '0', 'true', 'false', 'null']) {
    const [byPost, byGet] = [await postMembers({ extensions }), await getMembers({ extensions })]
    t.equal(byPost.status, 400, `POST extensions=${extensions}: 400`)
    t.same(byPost.body.errors?.[0]?.extensions.errors, [{ path: 'body.extensions', message: 'must be object' }], `POST extensions=${extensions}: names the member`)
    t.equal(byGet.status, 400, `GET extensions=${extensions}: 400, as POST`)
    t.equal(byGet.body.data, null, `GET extensions=${extensions}: the query did not run`)
    t.same(byGet, asGet(byPost), `GET extensions=${extensions}: the same problem as POST`)
  }
  for (const extensions of ['{}', '{"tracing":true}']) {
    const [byPost, byGet] = [await postMembers({ extensions }), await getMembers({ extensions })]
    t.same(byGet.body, { data: { usage: { rows: [] } } }, `GET extensions=${extensions}: served`)
    t.same(byGet, byPost, `GET extensions=${extensions}: as POST`)
  }

  // Both wrong: one problem naming both, by either method.
  const both = { variables: '1', extensions: 'false' }
  const [byPost, byGet] = [await postMembers(both), await getMembers(both)]
  t.same(byPost.body.errors?.[0]?.extensions.errors?.map((e) => e.path), ['body.variables', 'body.extensions'], 'POST: both members named')
  t.same(byGet, asGet(byPost), 'GET: the same problem as POST, both named')
})
