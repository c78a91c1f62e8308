import type { FastifyInstance } from 'fastify'
import { bearer } from '../helpers.js'

const CLASS_COLUMNS = [
  'num_model_requests',
  'input_tokens',
  'output_tokens',
  'in_text',
  'in_audio',
  'in_image',
  'cached_text',
  'cached_audio',
  'cached_image',
  'cache_write',
  'out_text',
  'out_audio',
  'out_image',
] as const
export type StoredClasses = Record<(typeof CLASS_COLUMNS)[number], number | null>

type Counters = Record<string, number | null | undefined | string>
const n = (v: unknown): number => (v === undefined || v === null || v === '' ? 0 : Number(v))

/**
 * The stored classes a fixture row must produce, computed from the row with the README's identities
 * (written out plainly here, independently of src/ingest/token-classes.ts).
 */
export function expectedClasses(r: Counters): StoredClasses {
  const input = n(r.input_tokens)
  const output = n(r.output_tokens)
  const cached = n(r.input_cached_tokens)
  const write = n(r.input_cache_write_tokens)
  const newStyle = r.input_uncached_tokens !== undefined && r.input_uncached_tokens !== null && r.input_uncached_tokens !== ''
  const cachedAudio = n(r.input_cached_audio_tokens)
  const cachedImage = n(r.input_cached_image_tokens)
  const inAudio = n(r.input_audio_tokens)
  const inImage = n(r.input_image_tokens)
  const outAudio = n(r.output_audio_tokens)
  const outImage = n(r.output_image_tokens)
  return {
    num_model_requests: r.num_model_requests === undefined || r.num_model_requests === null ? null : n(r.num_model_requests),
    input_tokens: input,
    output_tokens: output,
    // Old style: input no field explains is uncached text; new style: text is given.
    in_text: newStyle ? n(r.input_text_tokens) : input - cached - write - inAudio - inImage,
    in_audio: inAudio,
    in_image: inImage,
    cached_text: cached - cachedAudio - cachedImage,
    cached_audio: cachedAudio,
    cached_image: cachedImage,
    cache_write: write,
    out_text: output - outAudio - outImage,
    out_audio: outAudio,
    out_image: outImage,
  }
}

export function sumClasses(a: StoredClasses, b: StoredClasses): StoredClasses {
  const out = { ...a }
  for (const c of CLASS_COLUMNS) out[c] = a[c] === null && b[c] === null ? null : n(a[c]) + n(b[c])
  return out
}

/** Minimal CSV reader for the fixture (no quoted fields in it): header → objects, with line numbers. */
export function csvRows(text: string): { line: number; row: Record<string, string> }[] {
  const lines = text.split(/\r?\n/).filter((l) => l.length > 0)
  const header = lines[0]!.split(',')
  return lines.slice(1).map((l, i) => {
    const cells = l.split(',')
    return { line: i + 2, row: Object.fromEntries(header.map((h, j) => [h, cells[j] ?? ''])) }
  })
}

export function postBuckets(
  app: FastifyInstance,
  key: string,
  payload: string | Buffer | object,
  contentType = 'application/json',
  query = '',
) {
  return app.inject({
    method: 'POST',
    url: `/v1/usage/buckets${query}`,
    headers: { ...bearer(key), 'content-type': contentType },
    payload: typeof payload === 'object' && !Buffer.isBuffer(payload) ? JSON.stringify(payload) : payload,
  })
}

export async function storedRows(app: FastifyInstance & { testDb: { query: <T>(q: string, p?: unknown[]) => Promise<T[]> } }, tenantId: string) {
  return app.testDb.query<StoredClasses & Record<string, unknown>>(
    'select * from usage_buckets where tenant_id = $1 order by start_time, model nulls first, id',
    [tenantId],
  )
}

export async function rowCount(app: FastifyInstance & { testDb: { query: <T>(q: string, p?: unknown[]) => Promise<T[]> } }, tenantId: string) {
  const r = await app.testDb.query<{ n: number }>('select count(*)::int8 as n from usage_buckets where tenant_id = $1', [tenantId])
  return r[0]!.n
}

export function pick(row: Record<string, unknown>): StoredClasses {
  return Object.fromEntries(CLASS_COLUMNS.map((c) => [c, row[c]])) as StoredClasses
}
