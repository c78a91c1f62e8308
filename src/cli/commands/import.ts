import { open, stat } from 'node:fs/promises'
import { createReadStream } from 'node:fs'
import { Readable, Transform } from 'node:stream'
import { z } from 'zod'
import { CliError, usageError } from '../errors.js'
import { callServer, MissingRouteError, type ServerTarget } from '../http.js'
import { csvRowCounter } from '../csv-rows.js'
import { createProgress } from '../progress.js'
import { formatSummary } from '../summary.js'

export const IMPORT_HELP = `Usage: tokenledger import <file> [options]

Streams a usage file to the server and prints the server's summary.
  usage (default): an OpenAI dashboard usage export (.csv), an OpenAI usage page or array of pages,
                   or {"buckets": [...]} (.json)  → POST /v1/usage/buckets
  costs:           a cost export or costs report   → POST /v1/billing/costs

Options:
  --kind usage|costs     what the file holds (default: usage)
  --account-id A         the account of page and CSV rows that name none ({"buckets"} rows name their own)
  --provider P           the provider of page and CSV rows that name none (default: openai)
  --json                 print the server's summary as JSON
  --url URL              server (env TOKENLEDGER_URL, default http://127.0.0.1:3000)
  --key KEY              an API key with the ingest scope (env TOKENLEDGER_KEY)
  -h, --help             this help

Progress goes to stderr: a bar with rows, rows/s and ETA on a terminal, plain lines otherwise.`

const ROUTES = { usage: '/v1/usage/buckets', costs: '/v1/billing/costs' } as const
export type ImportKind = keyof typeof ROUTES

/**
 * The counts both routes answer with (other fields, such as `skipped`, are printed as they come): a 2xx
 * without them is not an import the server stored.
 */
const Count = z.number().int().min(0)
const ImportSummary = z.looseObject({ received: Count, created: Count, replaced: Count, unchanged: Count })

export interface ImportOptions {
  file: string
  kind: ImportKind
  accountId?: string | undefined
  provider?: string | undefined
  json: boolean
}

/** The one reason for a file that cannot be read, wherever the read failed (before or while streaming). */
const cannotRead = (file: string, e: NodeJS.ErrnoException) => new CliError(`cannot read ${file}: ${e.code ?? e.message}`)

/** CSV or JSON: by extension, else by the first non-blank byte ({ or [ is JSON). */
async function contentType(file: string): Promise<string> {
  if (/\.csv$/i.test(file)) return 'text/csv'
  if (/\.json$/i.test(file)) return 'application/json'
  try {
    const fh = await open(file, 'r')
    try {
      const { buffer, bytesRead } = await fh.read(Buffer.alloc(256), 0, 256, 0)
      const first = buffer.subarray(0, bytesRead).toString('utf8').trimStart()[0]
      return first === '{' || first === '[' ? 'application/json' : 'text/csv'
    } finally {
      await fh.close()
    }
  } catch (e) {
    throw cannotRead(file, e as NodeJS.ErrnoException)
  }
}

/** Counts bytes and, for CSV, data rows (records after the header) as the file streams past. */
function counter(csv: boolean, onCount: (bytes: number, rows: number | undefined) => void, onEnd: () => void) {
  let bytes = 0
  const counted = csv ? csvRowCounter() : undefined
  const rows = () => counted?.rows()
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      bytes += chunk.length
      counted?.push(chunk)
      onCount(bytes, rows())
      done(null, chunk)
    },
    flush(done) {
      onCount(bytes, rows())
      onEnd()
      done()
    },
  })
}

export async function runImport(target: ServerTarget, opts: ImportOptions, out: NodeJS.WriteStream, err: NodeJS.WriteStream) {
  const size = await stat(opts.file).then(
    (s) => s.size,
    (e: NodeJS.ErrnoException) => {
      throw cannotRead(opts.file, e)
    },
  )
  const type = await contentType(opts.file)
  // A cheap first request: a wrong key or URL fails here, before a large file starts streaming.
  await callServer<unknown>(target, 'GET', '/v1/me')

  const query = new URLSearchParams()
  if (opts.accountId) query.set('account_id', opts.accountId)
  if (opts.provider) query.set('provider', opts.provider)
  const path = `${ROUTES[opts.kind]}${query.size ? `?${query}` : ''}`

  const progress = createProgress(err, size)
  const source = createReadStream(opts.file)
  const body = source.pipe(counter(type === 'text/csv', progress.update, progress.sent))
  // pipe() does not pass a read error on: unhandled, it ended the process with a stack trace (a directory
  // named x.csv, a file that went away). It ends the request instead, and is the reason given.
  let readError: NodeJS.ErrnoException | undefined
  source.on('error', (e) => {
    readError = e
    body.destroy(e)
  })
  let summary: z.infer<typeof ImportSummary>
  try {
    summary = await callServer(target, 'POST', path, {
      body: Readable.toWeb(body) as ReadableStream<Uint8Array>,
      headers: { 'content-type': type },
      expect: ImportSummary,
    })
  } catch (e) {
    if (readError) throw cannotRead(opts.file, readError)
    if (e instanceof MissingRouteError && opts.kind === 'costs')
      throw new CliError(`import --kind costs: this server does not accept cost imports yet (POST ${ROUTES.costs} answered 404)`)
    throw e
  } finally {
    progress.stop()
    body.destroy()
  }
  out.write(opts.json ? `${JSON.stringify(summary)}\n` : formatSummary(summary))
}

export function parseKind(kind: string | undefined): ImportKind {
  if (kind === undefined) return 'usage'
  if (kind === 'usage' || kind === 'costs') return kind
  throw usageError(`--kind must be usage or costs, not "${kind}"`)
}
