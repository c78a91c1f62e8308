import Fastify from 'fastify'
import t, { type Test } from 'tap'
import { eachEngine } from '../helpers.js'
import { ANTHROPIC_KEY, buildWith, createConnection, OPENAI_KEY, syncAndWait, tenant } from './support/harness.js'

/** A real HTTP server that answers every request with `status` and `headers`, recording what it was sent. */
async function server(t: Test, status: number, headers: (self: string) => Record<string, string> = () => ({})) {
  const app = Fastify({ logger: false, forceCloseConnections: true })
  const seen: { url: string; headers: Record<string, unknown> }[] = []
  let self = ''
  app.get('/*', (req, reply) => {
    seen.push({ url: req.url, headers: req.headers })
    return reply.status(status).headers(headers(self)).send(status === 200 ? { object: 'page', data: [], has_more: false, next_page: null } : '')
  })
  self = await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  return { url: self, seen }
}

void t.test('a provider answering with a redirect fails the run; the admin key is never sent to where it points', (t) =>
  eachEngine(t, async (t, engine) => {
    // Another origin (localhost ≠ 127.0.0.1): fetch keeps custom headers such as Anthropic's x-api-key
    // on a cross-origin redirect; only Authorization is dropped.
    const elsewhere = await server(t, 200)
    const app = await buildWith(t, engine)
    const { headers } = await tenant(app)
    const start = new Date(Date.now() - 3 * 3_600_000).toISOString()
    for (const [provider, key, endpoints, status] of [
      ['anthropic', ANTHROPIC_KEY, ['usage_report_messages'], 302],
      ['openai', OPENAI_KEY, ['completions'], 307],
    ] as const) {
      const target = elsewhere.url.replace('127.0.0.1', 'localhost')
      const redirecting = await server(t, status, () => ({ location: `${target}/collect?from=${provider}` }))
      const conn = await createConnection(app, headers, { name: provider, provider, admin_key: key, base_url: redirecting.url, start_date: start, lag_hours: 0, endpoints: [...endpoints] })
      const state = await syncAndWait(app, headers, conn.id, 15_000)
      t.equal(state.last_run?.status, 'failed', `${provider}: the run fails`)
      t.match(state.last_run?.error, new RegExp(`answered ${status} .*redirect.*${target.replace(/[.:/]/g, '\\$&')}/collect`), `${provider}: the error names the redirect and where it points`)
      t.notMatch(state.last_run?.error ?? '', /from=/, `${provider}: the target's query is not repeated`)
      t.equal(redirecting.seen.length, 1, `${provider}: refused for good, not retried`)
    }
    t.same(elsewhere.seen, [], 'nothing was sent to the redirect target: neither key left for another origin')
  }),
)
