import closeWithGrace from 'close-with-grace'
import Fastify from 'fastify'
import app from './app.js'
import { loadConfig } from './config.js'
import { requestIdFrom } from './plugins/errors.js'

let config: ReturnType<typeof loadConfig>
try {
  config = loadConfig()
} catch (err) {
  process.stderr.write(`tokenledger: ${(err as Error).message}\n`)
  process.exit(1)
}

const server = Fastify({
  logger: {
    level: config.LOG_LEVEL,
    redact: { paths: ['req.headers.authorization', 'req.headers["x-api-key"]'], censor: '[redacted]' },
  },
  bodyLimit: config.BODY_LIMIT,
  trustProxy: config.TRUST_PROXY,
  // The id is read from x-request-id by requestIdFrom (only when it is a safe token) and echoed on every response.
  requestIdHeader: false,
  genReqId: requestIdFrom,
  // One access-log line per request (below) instead of Fastify's two: at thousands of single-event
  // requests a second, logging was a tenth of the server's CPU.
  disableRequestLogging: true,
  connectionTimeout: 0,
  requestTimeout: 120_000,
  keepAliveTimeout: 72_000,
  return503OnClosing: true,
  // A fresh embedded PGlite runs initdb in WASM, which can take a while on a busy machine.
  pluginTimeout: 120_000,
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
  await server.close()
})

await server.listen({ port: config.PORT, host: config.HOST })
