import { PassThrough, type Readable, type Transform } from 'node:stream'
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib'
import fp from 'fastify-plugin'
import type { FastifyRequest } from 'fastify'
import { problems } from '../errors.js'

/**
 * Request bodies sent with `Content-Encoding` (docs/reliability.md "Compressed request bodies"): gzip, deflate
 * and br are decoded before any parser sees the body; identity (or no header) is the body as sent;
 * anything else is a 415 problem naming what is accepted. Every body limit applies to the decoded
 * bytes, so a small compressed body that inflates past BODY_LIMIT (JSON), CSV_BODY_LIMIT (usage CSV) or
 * BILLED_CSV_BODY_LIMIT (cost CSV) is a 413 like any other oversize body, found while it streams, never
 * inflated whole. A body that is not
 * valid in its coding is a 400.
 */

// A Map, not an object: `Content-Encoding: constructor` must not find Object's own members.
const DECODERS = new Map<string, () => Transform>([
  ['gzip', createGunzip],
  ['x-gzip', createGunzip],
  ['deflate', createInflate],
  ['br', createBrotliDecompress],
])
const ACCEPTED = ['gzip', 'deflate', 'br', 'identity']

/** The codings of the header, in the order they were applied; identity is no coding. */
function codings(header: string | string[] | undefined): string[] {
  const text = Array.isArray(header) ? header.join(',') : (header ?? '')
  return text.split(',').map((c) => c.trim().toLowerCase()).filter((c) => c !== '' && c !== 'identity')
}

/** Whether the request carries a body at all (GET and HEAD bodies are never read). */
export function hasBody(req: FastifyRequest): boolean {
  if (req.method === 'GET' || req.method === 'HEAD') return false
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0
}

/**
 * The decoded body as a stream Fastify's parsers (and the CSV spool) read like the raw request: it
 * carries `receivedEncodedLength`, the bytes received on the wire, which Fastify compares with
 * Content-Length, while its body limit counts what it reads, the decoded bytes.
 */
function decoded(payload: Readable, coding: string): Readable & { receivedEncodedLength: number } {
  const decoder = DECODERS.get(coding)!()
  const out = Object.assign(new PassThrough(), { receivedEncodedLength: 0 })
  payload.on('data', (chunk: Buffer) => {
    out.receivedEncodedLength += chunk.length
  })
  // The client's own failure (a hang-up) passes through as it is: the error pipeline reads it as such.
  payload.on('error', (err) => out.destroy(err))
  // Its reader may attach later (the CSV route spools the body in its handler): until then a failure is
  // kept on the stream (`errored`, which the spool checks) instead of being an uncaught 'error' event.
  out.on('error', () => {})
  decoder.on('error', (err) => out.destroy(problems.badRequest(`the body is not valid ${coding} (Content-Encoding: ${coding}): ${err.message}`)))
  // A consumer that stops early (a limit, a bad row) must not leave the decoder inflating the rest.
  out.on('close', () => {
    payload.unpipe(decoder)
    decoder.destroy()
  })
  payload.pipe(decoder).pipe(out)
  return out
}

/** Whether the body is sent with a Content-Encoding (it is decoded here; its length on the wire is not its size). */
export function isEncoded(req: FastifyRequest): boolean {
  return codings(req.headers['content-encoding']).length > 0
}

export default fp(
  async (app) => {
    app.addHook('preParsing', async (req, _reply, payload) => {
      const list = codings(req.headers['content-encoding'])
      if (list.length === 0 || !hasBody(req)) return payload
      const unknown = list.filter((c) => !DECODERS.has(c))
      if (unknown.length || list.length > 1)
        throw problems.unsupportedEncoding(
          unknown.length ? `Content-Encoding ${unknown.join(', ')} is not accepted` : 'one Content-Encoding at most is accepted',
          ACCEPTED,
        )
      return decoded(payload, list[0]!)
    })
  },
  { name: 'request-encoding' },
)
