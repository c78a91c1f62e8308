import type { FastifyReply, FastifyRequest } from 'fastify'

/**
 * An `onSend` hook for every answer: a client that accepts no bytes for `ms` while more waits to be sent
 * loses its connection. Without it such a reader — a paused download, a process that stopped reading its
 * socket — kept its answer alive for ever: the server lifts the socket's timeout while a request is
 * handled (src/server.ts). A streamed report holds its tenant's query slot and its rows until its client
 * has read it, so a few of them refused that tenant every expensive query with a 429 long after their
 * cursors had been closed at the idle limit; and 40 unread GraphQL answers of 8.6 MB held 640 MB of heap.
 *
 * The socket's timeout counts a write in progress as activity (Node suppresses it while the bytes
 * queued on the socket go down), so a reader that keeps accepting bytes is not cut — though TCP opens a
 * full receive window only a segment at a time, so one that reads a few bytes a second looks stalled;
 * and it is ignored while nothing waits to be sent (the server itself is slow to produce the next rows —
 * a statement, a slot). The server's end is closed; a client that never reads may not notice.
 */
export function breakOffStalled(ms: number) {
  return async (_req: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    const res = reply.raw
    // app.inject's responses have no socket to time out.
    if (typeof res.socket?.setTimeout === 'function')
      res.setTimeout(ms, () => {
        // Bytes queued (a body written whole with end() no longer "needs drain", so not writableNeedDrain).
        if (res.writableLength > 0) res.destroy()
      })
    return payload
  }
}
