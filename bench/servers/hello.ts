// Row 3's baseline: the smallest useful Fastify POST endpoint (parse the JSON body, answer 200), run
// in its own process exactly like the server under test. GET / answers for the readiness check.
import Fastify from 'fastify'

const server = Fastify({ logger: false })
server.get('/', async () => ({ ok: true }))
server.post('/', async (req) => ({ received: Array.isArray((req.body as { events?: unknown[] }).events) }))
await server.listen({ port: Number(process.env.PORT ?? 0), host: process.env.HOST ?? '127.0.0.1' })
process.on('SIGTERM', () => void server.close())
