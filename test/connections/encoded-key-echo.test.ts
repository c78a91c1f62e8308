import Fastify from 'fastify'
import t from 'tap'
import { eachEngine } from '../helpers.js'
import { buildWith, createConnection, getState, syncAndWait, tenant } from './support/harness.js'

/**
 * The admin key is blanked out of a provider's error text before it is stored as the run's error, but
 * only in its literal form. The schema takes any printable ASCII without spaces, and characters such as
 * + / = % change when a provider or proxy echoes the key percent-encoded (encodeURIComponent, a form's
 * URLSearchParams, lower-case hex) or JSON-escaped in a body the run keeps as text (`\/`): the key went
 * on into last_run.error, served by the API. A Basic-auth (base64) echo cannot happen: the key is sent
 * only as a Bearer token or x-api-key, never in a Basic header (fetch refuses URL credentials).
 */

const KEY = 'sk-admin+Key/with=odd%chars~(x)*0123'

const FORMS: [string, string][] = [
  ['encodeURIComponent', encodeURIComponent(KEY)],
  ['percent-encoded, lower-case hex', encodeURIComponent(KEY).replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase())],
  ['form-encoded (URLSearchParams)', new URLSearchParams({ k: KEY }).toString().slice(2)],
  ['percent-encoded, every character', [...KEY].map((c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`).join('')],
  ['JSON-escaped in a body kept as text', JSON.stringify(KEY).slice(1, -1).replaceAll('/', '\\/')],
]

void t.test('a provider echoing the admin key encoded never gets it into the run error, the API or the logs', (t) =>
  eachEngine(t, async (t, engine) => {
    for (const [what, echoed] of FORMS) {
      t.not(echoed, KEY, `${what}: a form other than the literal key`)
      // A real provider process of its own: a 401 echoing the key as it saw it, encoded.
      const provider = Fastify({ logger: false, forceCloseConnections: true })
      provider.get('/v1/organization/usage/completions', (_req, reply) =>
        what.startsWith('JSON')
          ? reply.status(401).type('application/json').send(`{"detail":"invalid key ${echoed}"}`)
          : reply.status(401).send({ error: { message: `Incorrect API key provided: ${echoed}.`, type: 'invalid_request_error' } }),
      )
      const url = await provider.listen({ port: 0, host: '127.0.0.1' })
      t.teardown(() => provider.close())

      const lines: string[] = []
      const app = await buildWith(t, engine, { logStream: { write: (l) => void lines.push(l) } })
      const { headers } = await tenant(app)
      const start = new Date(Date.now() - 6 * 3600 * 1000).toISOString()
      const conn = await createConnection(app, headers, { name: 'o', provider: 'openai', admin_key: KEY, base_url: url, start_date: start, lag_hours: 0, endpoints: ['completions'] })
      const state = await syncAndWait(app, headers, conn.id, 15_000)
      t.equal(state.last_run?.status, 'failed', what)
      t.match(state.last_run?.error, /answered 401 Unauthorized: .*\[admin key\]/, `${what}: the key is named, not shown`)

      const bodies = [
        JSON.stringify(await getState(app, headers, conn.id)),
        (await app.inject({ method: 'GET', url: '/v1/connections', headers })).body,
        (await app.inject({ method: 'POST', url: '/graphql', headers, payload: { query: '{ connections { id lastRun { status error } } }' } })).body,
      ]
      const everything = [...lines, ...bodies].join('\n')
      t.ok(lines.length > 0, `${what}: logs were captured`)
      for (const [form, text] of [['literal', KEY], ...FORMS]) {
        t.notOk(state.last_run?.error?.includes(text!), `${what}: the key (${form}) is not in the run error`)
        t.notOk(everything.includes(text!), `${what}: the key (${form}) appears in no API response or log line`)
      }
    }
  }),
)
