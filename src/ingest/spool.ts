import { createWriteStream } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { problems } from '../errors.js'

export interface Spooled {
  path: string
  bytes: number
  /** Removes the file; safe to call more than once. */
  cleanup: () => Promise<void>
}

/**
 * Writes a request body to a private temp file, refusing more than `limit` bytes (413). Uploads are
 * spooled before any transaction opens: a slow client must never hold the database (on PGlite a
 * transaction holds the only connection), and the file is then parsed at disk speed.
 */
export async function spoolToTempFile(body: Readable, limit: number): Promise<Spooled> {
  const dir = await mkdtemp(join(tmpdir(), 'tokenledger-upload-'))
  const path = join(dir, 'body.csv')
  const cleanup = () => rm(dir, { recursive: true, force: true })
  // A body that failed before anyone read it (a Content-Encoding decoder that met a corrupt header while
  // the route was still authenticating) has already emitted its error: it would be waited on for ever.
  if (body.errored) {
    await cleanup()
    throw body.errored
  }
  let bytes = 0
  const out = createWriteStream(path, { mode: 0o600 })
  try {
    await new Promise<void>((resolve, reject) => {
      let failed = false
      // Never destroy the request on failure: that would kill the socket before the 413 is sent.
      // Unpipe and let the rest of the body drain instead.
      const fail = (err: unknown) => {
        if (failed) return
        failed = true
        body.unpipe(out)
        out.destroy()
        body.resume()
        reject(err)
      }
      body.on('data', (chunk: Buffer) => {
        bytes += chunk.length
        if (bytes > limit) fail(problems.payloadTooLarge(limit))
      })
      body.on('error', fail)
      body.on('aborted', () => fail(problems.badRequest('the upload was aborted')))
      out.on('error', fail)
      out.on('finish', () => {
        if (!failed) resolve()
      })
      body.pipe(out)
    })
  } catch (err) {
    await cleanup()
    throw err
  }
  return { path, bytes, cleanup }
}
