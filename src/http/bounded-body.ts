import { PassThrough, type Readable } from 'node:stream'
import { problems } from '../errors.js'

/**
 * A request body read as it arrives, refused with a 413 once more than `limit` bytes came (the decoded
 * bytes, when the body has a Content-Encoding). A body whose reader stops early — past the limit, or at
 * a bad CSV header — is never destroyed, which would close the socket before the answer is sent: it is
 * unpiped and the rest drained. A body that failed before anyone read it (a decoder that met a corrupt
 * header while the route authenticated) has already emitted its error and would be waited on for ever:
 * it fails at once. A client that hangs up is a 400.
 */
export function boundedBody(body: Readable, limit: number): Readable {
  const out = new PassThrough()
  // Its reader may attach later (a handler after the route's hooks): until then a failure is kept on
  // the stream (`errored`, which every reader sees) instead of being an uncaught 'error' event.
  out.on('error', () => {})
  if (body.errored) {
    out.destroy(body.errored)
    return out
  }
  let bytes = 0
  const fail = (err: Error) => {
    if (!out.destroyed) out.destroy(err)
  }
  const count = (chunk: Buffer) => {
    bytes += chunk.length
    if (bytes > limit) fail(problems.payloadTooLarge(limit))
  }
  body.on('data', count)
  body.on('error', fail)
  body.on('aborted', () => fail(problems.badRequest('the upload was aborted')))
  out.on('close', () => {
    if (body.readableEnded) return
    body.unpipe(out)
    body.removeListener('data', count)
    body.resume()
  })
  body.pipe(out)
  return out
}
