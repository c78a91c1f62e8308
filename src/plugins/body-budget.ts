import { Transform, type Readable } from 'node:stream'
import fp from 'fastify-plugin'
import type { FastifyRequest } from 'fastify'
import { problems } from '../errors.js'
import { hasBody, isEncoded } from './request-encoding.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * What one body byte of a media type weighs against BODY_BYTES_IN_FLIGHT (default 1): 0 for a body the
     * route does not hold in memory (the usage CSV, spooled to disk), more for one whose parsed rows cost
     * more per byte than JSON's (the billed-cost CSV).
     */
    bodyWeight?: Readonly<Record<string, number>>
  }
  interface FastifyInstance {
    /** The weighted request-body bytes held now (a gauge of /metrics). */
    bodyBytesHeld: () => number
  }
}

export interface BodyBudgetOptions {
  /** BODY_BYTES_IN_FLIGHT: the weighted bytes of request bodies all requests in flight may hold at once. */
  limit: number
  retryAfterSeconds: number
}

const mediaType = (req: FastifyRequest) => (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase()

/**
 * One budget for the request bodies held in memory (docs/reliability.md "Round 12"): Fastify bounds each
 * body (BODY_LIMIT) but not how many are read and parsed at once — 40 concurrent 30 MiB JSON bodies took
 * a server to 5 GB. A request takes its body's declared length before the body is read; one that does
 * not fit is answered 503 + Retry-After unread (413 if it could never fit). A body without a length, or
 * with a Content-Encoding, takes its decoded bytes as they arrive, and is refused the same way mid-stream
 * when they do not fit. Everything taken is given back when the response ends, however it ends.
 * Registered after request-encoding, so it sees the decoded body.
 */
export default fp(
  async (app, opts: BodyBudgetOptions) => {
    let held = 0
    app.decorate('bodyBytesHeld', () => held)

    app.addHook('preParsing', async (req, reply, payload) => {
      if (!hasBody(req)) return payload
      const weight = req.routeOptions.config?.bodyWeight?.[mediaType(req)] ?? 1
      if (weight === 0) return payload
      // A body that can never fit is too large: named by the route's own limit when that is the smaller
      // (BODY_LIMIT, for the JSON Fastify reads itself), as Fastify's own 413 would be, else by this one.
      const most = Math.floor(opts.limit / weight)
      const refusal = (need: number) =>
        need <= opts.limit
          ? problems.overloaded(opts.retryAfterSeconds, 'the server holds as many request bodies as it may at once; try again shortly')
          : weight === 1 && req.routeOptions.bodyLimit < most
            ? problems.payloadTooLarge(req.routeOptions.bodyLimit)
            : problems.payloadTooLarge(most, `the request body exceeds the ${most} bytes of such bodies this server holds at once (BODY_BYTES_IN_FLIGHT)`)
      let taken = 0
      let answered = false
      const take = (bytes: number) => {
        // Once answered, what still arrives is being drained, not held.
        if (answered) return true
        if (held + bytes > opts.limit) return false
        held += bytes
        taken += bytes
        return true
      }
      reply.raw.once('close', () => {
        answered = true
        held -= taken
      })
      const length = Number(req.headers['content-length'])
      const declared = Number.isSafeInteger(length) && length > 0 ? length * weight : 0
      if (!take(declared)) {
        // Unread: the raw request is drained after the answer; a decoder already reading it is stopped.
        if (payload !== req.raw) payload.destroy()
        req.raw.resume()
        throw refusal(declared)
      }
      // The length is exact and Fastify holds the body to it: nothing more to count.
      if (declared > 0 && !isEncoded(req)) return payload
      return counted(payload, weight, (bytes) => (take(bytes) ? undefined : refusal(taken + bytes)), () => taken)
    })
  },
  { name: 'body-budget', dependencies: ['request-encoding'] },
)

/**
 * `payload` as it passes: each chunk's weighted bytes beyond what was taken are taken too; `refuse`
 * returns the error to fail the body with when they do not fit. Carries `receivedEncodedLength` (the
 * bytes on the wire, which Fastify compares with Content-Length) from the decoded stream it wraps.
 */
function counted(payload: Readable, weight: number, refuse: (bytes: number) => Error | undefined, taken: () => number): Readable {
  let seen = 0
  const out = new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length * weight
      const more = seen - taken()
      const err = more > 0 ? refuse(more) : undefined
      done(err, err ? undefined : chunk)
    },
  })
  Object.defineProperty(out, 'receivedEncodedLength', { get: () => (payload as { receivedEncodedLength?: number }).receivedEncodedLength })
  // Its reader may attach later (a CSV route reads in its handler): a failure stays on the stream until then.
  out.on('error', () => {})
  payload.on('error', (err) => out.destroy(err))
  out.on('close', () => {
    if (payload.readableEnded) return
    payload.unpipe(out)
    payload.resume()
  })
  return payload.pipe(out)
}
