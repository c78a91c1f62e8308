import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

/**
 * `variables` must be a JSON object (or null) by either method. mercurius's POST body schema refuses
 * anything else as a 400, but its GET handler ran the query with whatever the `variables` text parsed to —
 * an array, a string, a number, a boolean answered 200 with data. GET now refuses them with POST's own
 * problem, naming `querystring.variables` where POST names `body.variables`. And POST itself served `""`,
 * `0` and `false`: Fastify's ajv coerces them to null before checking the type. Both methods refuse them.
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
  const post = async (variables: string) =>
    answer(await app.inject({
      method: 'POST',
      url: '/graphql',
      headers: { ...bearer(key), 'content-type': 'application/json' },
      payload: `{"query":${JSON.stringify(QUERY)},"variables":${variables}}`,
    }))
  const get = async (variables: string) =>
    answer(await app.inject({ method: 'GET', url: `/graphql?query=${encodeURIComponent(QUERY)}&variables=${encodeURIComponent(variables)}`, headers: bearer(key) }))

  for (const variables of ['["proj_1"]', '[]', '"proj_1"', '""', '1', '0', 'true', 'false']) {
    const [byPost, byGet] = [await post(variables), await get(variables)]
    t.equal(byPost.status, 400, `POST variables=${variables}: 400`)
    t.equal(byGet.status, 400, `GET variables=${variables}: 400, as POST`)
    t.equal(byGet.body.data, null, `GET variables=${variables}: the query did not run`)
    t.equal(byGet.body.errors?.[0]?.extensions.code, 'BAD_REQUEST')
    t.same(byGet.body.errors?.[0]?.extensions.errors?.map((e) => e.path), ['querystring.variables'], `GET variables=${variables}: names the parameter`)
    // POST's answer with its body's name for the parameter is GET's answer, word for word.
    const postAsGet = JSON.parse(JSON.stringify(byPost).replaceAll('"body.variables"', '"querystring.variables"')) as typeof byPost
    t.same(byGet, postAsGet, `GET variables=${variables}: the same problem as POST`)
  }

  // An object or null is served by both, alike.
  for (const variables of ['{"p":["proj_1"]}', '{}', 'null']) {
    const [byPost, byGet] = [await post(variables), await get(variables)]
    t.equal(byGet.status, 200, `GET variables=${variables}: 200`)
    t.same(byGet.body, { data: { usage: { rows: [] } } }, `GET variables=${variables}: served`)
    t.same(byGet, byPost, `GET variables=${variables}: as POST`)
  }
})
