import net from 'node:net'

/** What postgres.js hands a custom socket factory (its parsed connection options). */
interface SocketTarget {
  host: string[]
  port: number[]
  path?: string | false
}

/**
 * Sockets for postgres.js that are closed when PostgreSQL stops answering. On a network that hangs
 * (packets dropped, not refused — a failover, a partition) a statement already sent waited until TCP
 * gave up, ~15 minutes, holding its pooled connection and its request: postgres.js 3.4.9 has no
 * client-side deadline, and `statement_timeout` cannot answer over a dead link. Every server statement
 * runs under `statement_timeout`, so a connection that wrote and has read nothing since for longer than
 * the deadline (> STATEMENT_TIMEOUT_MS) is dead: it is closed, and postgres.js fails the statements on it
 * with CONNECTION_CLOSED (→ 503, as for any lost connection) and opens a new one for the next.
 *
 * Closed without an error on purpose: with one, postgres.js fails the statements it has sent on the
 * 'error' event but, the socket still counting as open until its 'close', may give the connection a new
 * statement meanwhile — which its close handler then leaves unanswered for ever (seen in the test). A
 * plain close fails everything outstanding at once.
 *
 * The clock restarts at every write, so a long COPY FROM STDIN is never cut while data flows, and an
 * idle connection (an export cursor waiting for its slow client) is not waiting for anything.
 * Not covered: TLS connections (`sslmode`). postgres.js wraps the socket in TLS itself, and from then on
 * its writes and reads no longer pass through this socket's events, so a TLS connection is never taken
 * for dead here (their hang stays bounded by TCP; docs/reliability.md).
 */
export function createSocketWatch(deadlineMs: number, onClose?: () => void) {
  /** Each watched socket, with when it last wrote without hearing back since. */
  const waiting = new Map<net.Socket, number>()
  let next = 0

  const timer = setInterval(() => {
    const now = performance.now()
    for (const [socket, since] of waiting)
      if (now - since > deadlineMs)
        // Decided after this turn's I/O: when the event loop itself was held past the deadline (a long
        // synchronous task, a GC pause, a starved CPU), timers run before the sockets are read, and an
        // answer that arrived meanwhile was taken for silence — a connection that had answered was closed.
        setImmediate(() => {
          if (waiting.get(socket) !== since) return
          waiting.delete(socket)
          socket.destroy()
          onClose?.()
        })
  }, Math.max(20, Math.min(1_000, deadlineMs / 4)))
  timer.unref()

  return {
    /** postgres.js's `socket` option: a connecting socket to the next host (a Unix socket when the URL names one). */
    socket(target: SocketTarget): net.Socket {
      const socket = new net.Socket()
      const i = next++ % target.host.length
      if (target.path) socket.connect(target.path)
      else socket.connect(target.port[i] ?? 5432, target.host[i]!)
      // postgres.js names the host in its errors and as the TLS server name.
      Object.assign(socket, { host: target.host[i], port: target.port[i] })
      // After connect(), which resets `write` to the prototype's (net.js undoes a write-after-end guard).
      const write = socket.write
      socket.write = function (this: net.Socket, ...args: Parameters<net.Socket['write']>) {
        waiting.set(socket, performance.now())
        return write.apply(this, args)
      } as net.Socket['write']
      // PostgreSQL speaks only after the client's first message, so this listener (which starts the
      // flow) misses nothing postgres.js's own listener, added when it writes that message, would see.
      socket.on('data', () => waiting.delete(socket))
      socket.once('close', () => waiting.delete(socket))
      return socket
    },
    close() {
      clearInterval(timer)
    },
  }
}
