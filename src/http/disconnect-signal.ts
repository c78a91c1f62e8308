import type { FastifyReply } from 'fastify'

/**
 * Aborts when the client goes away before its answer is sent, so the database work it started can be
 * cancelled (PostgreSQL; PGlite runs a statement to its end) instead of holding a connection for nobody.
 */
export function disconnectSignal(reply: FastifyReply): AbortSignal {
  const controller = new AbortController()
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort()
  })
  return controller.signal
}
