import Fastify from 'fastify'
import t, { type Test } from 'tap'
import type { DbClient } from '../../src/db/client.js'
import { eachEngine, freshDb } from '../helpers.js'
import { buildWith, createConnection, OPENAI_KEY, syncAndWait, tenant } from './support/harness.js'

const HOUR = 3600

/** OpenAI's paths on a real server: completions refuses with a 400; embeddings answers as `embeddings` says. */
async function provider(t: Test, embeddings: 'unauthorized' | 'never') {
  const app = Fastify({ logger: false, forceCloseConnections: true })
  let asked!: () => void
  const embeddingsAsked = new Promise<void>((resolve) => (asked = resolve))
  app.get('/v1/organization/usage/:endpoint', async (req, reply) => {
    if ((req.params as { endpoint: string }).endpoint === 'completions') return reply.status(400).send({ error: { message: 'Invalid value for group_by: user_id' } })
    asked()
    if (embeddings === 'unauthorized') return reply.status(401).send({ error: { message: 'Incorrect API key provided' } })
    return new Promise(() => undefined)
  })
  const url = await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  return { url, embeddingsAsked }
}

const COMPLETIONS_FAILED = /usage\/completions answered 400 Bad Request: Invalid value for group_by: user_id/

/**
 * last_run.error names each endpoint that failed (docs/connections.md). A failure that stops the run at
 * once (a 401, shutdown) came after the failures of earlier endpoints, and replaced them: the error named
 * only the last one, so what failed before (a refused request, a report-shape 409) was not said.
 */
void t.test('a run stopped at once still names the endpoints that failed before', (t) =>
  eachEngine(t, async (t, engine) => {
    const start = new Date(Date.now() - 3 * HOUR * 1000).toISOString()
    const body = (url: string) => ({ name: 'o', provider: 'openai', admin_key: OPENAI_KEY, base_url: url, start_date: start, lag_hours: 0, endpoints: ['completions', 'embeddings'] })

    const app = await buildWith(t, engine)
    const { headers } = await tenant(app)
    const refusing = await provider(t, 'unauthorized')
    const conn = await createConnection(app, headers, body(refusing.url))
    const state = await syncAndWait(app, headers, conn.id, 15_000)
    t.equal(state.last_run?.status, 'failed')
    t.match(state.last_run?.error, COMPLETIONS_FAILED, 'the first endpoint’s failure')
    t.match(state.last_run?.error, /usage\/embeddings answered 401/, 'and the 401 that stopped the run')

    // Shutdown while the second endpoint waits on the provider.
    const db: DbClient = await freshDb(t, engine)
    const other = await buildWith(t, engine, { db })
    const h2 = (await tenant(other)).headers
    const hanging = await provider(t, 'never')
    const c2 = await createConnection(other, h2, body(hanging.url))
    t.equal((await other.inject({ method: 'POST', url: `/v1/connections/${c2.id}/sync`, headers: h2 })).statusCode, 202)
    await hanging.embeddingsAsked
    await other.close()
    const [row] = await db.query<{ status: string; error: string }>(`select last_run ->> 'status' as status, last_run ->> 'error' as error from connections where id = $1`, [c2.id])
    t.equal(row?.status, 'failed')
    t.match(row?.error, COMPLETIONS_FAILED, 'the first endpoint’s failure')
    t.match(row?.error, /interrupted: the server shut down/, 'and the shutdown')
  }),
)
