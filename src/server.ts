import type { ServerResponse } from 'node:http'
import closeWithGrace from 'close-with-grace'
import Fastify, { LogController } from 'fastify'
import app from './app.js'
import { loadConfig } from './config.js'
import { problems } from './errors.js'
import { requestIdOptions, routerErrorOptions, sendProblem } from './plugins/errors.js'

let config: ReturnType<typeof loadConfig>
try {
  config = loadConfig()
} catch (err) {
  process.stderr.write(`tokenledger: ${(err as Error).message}\n`)
  process.exit(1)
}

const server = Fastify({
  ...routerErrorOptions,
  logger: {
    level: config.LOG_LEVEL,
    redact: { paths: ['req.headers.authorization', 'req.headers["x-api-key"]'], censor: '[redacted]' },
  },
  bodyLimit: config.BODY_LIMIT,
  trustProxy: config.TRUST_PROXY,
  // The id is read from x-request-id (only when it is a safe token) and echoed on every response.
  ...requestIdOptions,
  // One access-log line per request (below) instead of Fastify's two: at thousands of single-event
  // requests a second, logging was a tenth of the server's CPU.
  logController: new LogController({ disableRequestLogging: true }),
  // A socket may stay silent this long before its first request (it lived for ever at 0); the limit
  // is lifted while a request is handled (below), so a long import is never cut. Idle keep-alive
  // sockets are bounded by keepAliveTimeout, a request still arriving by requestTimeout.
  connectionTimeout: 10_000,
  keepAliveTimeout: 72_000,
  requestTimeout: config.REQUEST_TIMEOUT_MS,
  // Given to Node when the server is made, not only set on it afterwards as Fastify does: Node enforces
  // requestTimeout only if headersTimeout is not larger (its default, 60 s, is), and checks both only
  // every connectionsCheckingInterval (30 s by default, more than a short timeout).
  http: {
    requestTimeout: config.REQUEST_TIMEOUT_MS,
    headersTimeout: Math.min(60_000, config.REQUEST_TIMEOUT_MS),
    connectionsCheckingInterval: Math.min(30_000, Math.ceil(config.REQUEST_TIMEOUT_MS / 4)),
  },
  // At shutdown idle keep-alive sockets are closed (they held close() until the grace period ended
  // and the process exited 1); requests still arriving are answered by the hook below.
  forceCloseConnections: 'idle',
  return503OnClosing: false,
  // A fresh embedded PGlite runs initdb in WASM, which can take a while on a busy machine.
  pluginTimeout: 120_000,
})

let closing = false
// Answers being sent, so that shutdown can break off those a client is still reading (below).
const answers = new Set<ServerResponse>()
server.addHook('onRequest', async (req, reply) => {
  req.raw.socket?.setTimeout(0)
  const res = reply.raw
  answers.add(res)
  res.once('close', () => answers.delete(res))
  if (!closing) return
  // Fastify's own 503 is plain JSON without Retry-After; clients and balancers get a problem.
  reply.header('connection', 'close')
  return sendProblem(reply, req, problems.unavailable(Math.ceil(config.DB_RETRY_MS / 1000), 'the server is shutting down; retry shortly'))
})

server.addHook('onResponse', async (req, reply) => {
  req.log.info({ method: req.method, url: req.url, statusCode: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request')
})

try {
  await server.register(app, { config })
} catch (err) {
  // Startup failures (a locked DATA_DIR, an invalid database URL) are reported plainly.
  process.stderr.write(`tokenledger failed to start: ${(err as Error).message}\n`)
  process.exit(1)
}

closeWithGrace({ delay: config.GRACE_MS }, async ({ signal, err }) => {
  if (err) server.log.error({ err }, 'closing after an error')
  else server.log.info({ signal }, 'draining and shutting down')
  closing = true
  // close() waits for every request in flight. A handler (an ingest's transaction) ends by itself, but an
  // answer already being sent ends only when its client has read it: a paused reader of a CSV export or a
  // mirror's stream held close() for the whole grace period, and the process exited 1 ("killed by
  // timeout"). After half the grace period the answers whose headers are out are broken off (their
  // cursors close and roll back, as when a client leaves); handlers still running are left to finish.
  // Node closes only the keep-alive connections idle when close() begins; one whose request was still in
  // flight stayed open after its answer (until keepAliveTimeout) and held the exit as well.
  // (Not `Connection: close` on their answers: a request pipelined behind one is answered 503, as above.)
  for (const res of answers) res.once('close', () => setImmediate(() => server.server.closeIdleConnections()))
  // A request whose body is still arriving by then (a slow upload) is cut too: nothing of it is written yet (a
  // JSON body is parsed before its handler runs, a CSV is spooled before its transaction opens).
  const breakOff = setTimeout(() => {
    for (const res of answers) if (res.headersSent || !res.req.complete) res.destroy()
  }, Math.floor(config.GRACE_MS / 2))
  try {
    await server.close()
  } finally {
    clearTimeout(breakOff)
  }
})

await server.listen({ port: config.PORT, host: config.HOST })
