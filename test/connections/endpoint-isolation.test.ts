import Fastify from 'fastify'
import t, { type Test } from 'tap'
import { eachEngine } from '../helpers.js'
import { buildWith, createConnection, OPENAI_KEY, syncAndWait, tenant } from './support/harness.js'

const HOUR = 3600

/** OpenAI's paths on a real server: completions refuses (a 400, or 401 for a bad key), the others answer one bucket. */
async function provider(t: Test, completions: { status: number; message: string }) {
  const app = Fastify({ logger: false, forceCloseConnections: true })
  const asked: string[] = []
  app.get('/v1/organization/usage/:endpoint', (req, reply) => {
    const endpoint = (req.params as { endpoint: string }).endpoint
    asked.push(endpoint)
    if (endpoint === 'completions') return reply.status(completions.status).send({ error: { message: completions.message } })
    const start = Number((req.query as { start_time: string }).start_time)
    const result = { object: 'organization.usage.embeddings.result', input_tokens: 700, num_model_requests: 2, project_id: 'p', user_id: null, api_key_id: null, model: 'text-embedding-3-small' }
    return { object: 'page', data: [{ object: 'bucket', start_time: start, end_time: start + HOUR, results: [result] }], has_more: false, next_page: null }
  })
  const url = await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  return { url, asked }
}

void t.test('one endpoint failing for good does not keep the others from syncing; the run says which failed', (t) =>
  eachEngine(t, async (t, engine) => {
    const app = await buildWith(t, engine)
    const { tenantId, headers } = await tenant(app)
    const start = new Date(Date.now() - 3 * HOUR * 1000).toISOString()
    const refusing = await provider(t, { status: 400, message: 'Invalid value for group_by: user_id' })
    const conn = await createConnection(app, headers, { name: 'o', provider: 'openai', admin_key: OPENAI_KEY, base_url: refusing.url, start_date: start, lag_hours: 0, endpoints: ['completions', 'embeddings'] })
    const state = await syncAndWait(app, headers, conn.id, 15_000)
    t.equal(state.last_run?.status, 'failed', 'the run failed')
    t.match(state.last_run?.error, /^GET .*\/usage\/completions answered 400 Bad Request: Invalid value for group_by: user_id$/, 'naming the endpoint that failed and why')
    t.equal(state.synced_until.completions, null, 'the failed endpoint is not marked synced')
    t.ok(state.synced_until.embeddings, 'the other endpoint synced')
    const [stored] = await app.testDb.query<{ input: string }>(`select sum(input_tokens)::text as input from usage_buckets where tenant_id = $1 and usage_type = 'embeddings'`, [tenantId])
    t.equal(stored?.input, '700', 'and its usage is stored')

    // A key the provider refuses (401) would be refused by every endpoint: the run stops at the first.
    const unauthorized = await provider(t, { status: 401, message: 'Incorrect API key provided' })
    const bad = await createConnection(app, headers, { name: 'b', provider: 'openai', admin_key: OPENAI_KEY, base_url: unauthorized.url, start_date: start, lag_hours: 0, endpoints: ['completions', 'embeddings'] })
    const refused = await syncAndWait(app, headers, bad.id, 15_000)
    t.match(refused.last_run?.error, /answered 401/)
    t.same(unauthorized.asked, ['completions'], 'a refused key stops the run: no request to the other endpoints')
  }),
)
