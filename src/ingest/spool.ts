import { createWriteStream } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { boundedBody } from '../http/bounded-body.js'

export interface Spooled {
  path: string
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
  try {
    await pipeline(boundedBody(body, limit), createWriteStream(path, { mode: 0o600 }))
  } catch (err) {
    await cleanup()
    throw err
  }
  return { path, cleanup }
}
