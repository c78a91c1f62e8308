import type { FastifyReply } from 'fastify'

/**
 * Aborts when the client goes away before its answer is sent, so the database work it started can be
 * cancelled (PostgreSQL; PGlite runs a statement to its end) instead of holding a connection for nobody.
 * A client may also have gone before the handler asks for the signal — while its key was looked up, or
 * its request waited for a lock — and its response's 'close' has then been emitted already: such a
 * signal starts aborted (it never aborted, and the report's statement ran for nobody).
 */
export function disconnectSignal(reply: FastifyReply): AbortSignal {
  const controller = new AbortController()
  const gone = () => {
    if (!reply.raw.writableFinished) controller.abort()
  }
  if (reply.raw.destroyed) gone()
  else reply.raw.once('close', gone)
  return controller.signal
}
