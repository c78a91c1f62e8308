import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify'
import type { Test } from 'tap'
import { buildWith, createConnection, OPENAI_KEY, syncAndWait, tenant } from './harness.js'

export const HOUR = 3600

/**
 * A provider that misbehaves in the way each test sets: a real HTTP server answering one of OpenAI's paths
 * (completions unless `path` says otherwise) with whatever `answer` returns for a request's window and cursor.
 */
export async function misbehaving(t: Test, answer: (q: { start: number; end: number; page: number }, reply: FastifyReply) => unknown, path = '/v1/organization/usage/completions') {
  const app = Fastify({ logger: false, forceCloseConnections: true })
  const requests: string[] = []
  app.get(path, (req: FastifyRequest, reply) => {
    requests.push(req.url)
    const q = req.query as Record<string, string>
    return answer({ start: Number(q.start_time), end: Number(q.end_time), page: Number(q.page ?? 0) }, reply)
  })
  const url = await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  return { url, requests }
}

export const bucket = (start: number, results: unknown[] = []) => ({ object: 'bucket', start_time: start, end_time: start + HOUR, results })
export const usage = { object: 'organization.usage.completions.result', input_tokens: 100, output_tokens: 10, num_model_requests: 1, project_id: 'p', user_id: null, api_key_id: null, model: 'gpt-4o', batch: false, service_tier: 'default' }

/** One run of a connection to `url` (one endpoint, no lag) whose start date is `hoursAgo` hours back. */
export async function pull(t: Test, engine: Parameters<typeof buildWith>[1], url: string, config: Record<string, string> = {}, endpoint = 'completions', hoursAgo = 6) {
  const app = await buildWith(t, engine, { config })
  const { headers, tenantId } = await tenant(app)
  const start = new Date(Date.now() - hoursAgo * HOUR * 1000).toISOString()
  const conn = await createConnection(app, headers, { name: 'o', provider: 'openai', admin_key: OPENAI_KEY, base_url: url, start_date: start, lag_hours: 0, endpoints: [endpoint] })
  return Object.assign(await syncAndWait(app, headers, conn.id, 15_000), { app, headers, tenantId, connectionId: conn.id })
}
