import { Readable } from 'node:stream'
import type { FastifyReply } from 'fastify'
import type { BucketRows, ReportPage } from './report.js'

/** RFC 4180 field: quoted only when it must be; null/undefined is an empty field. */
function field(v: unknown): string {
  if (v === null || v === undefined) return ''
  const s = String(v)
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

export function csvLine(values: unknown[]): string {
  return `${values.map(field).join(',')}\n`
}

/** `2025-10-05T00:00:00+00:00`, the export's ISO form. */
export function isoSeconds(unix: number): string {
  return `${new Date(unix * 1000).toISOString().slice(0, 19)}+00:00`
}

export function wantsCsv(accept: string | undefined): boolean {
  return !!accept && /\btext\/csv\b/i.test(accept)
}

/** Streams the header, then each page's buckets as they are read (memory holds one page at a time). */
export function sendCsv(
  reply: FastifyReply,
  header: readonly string[],
  { sources, pages }: { sources: string[]; pages: AsyncGenerator<ReportPage> },
  lines: (bucket: BucketRows, page: ReportPage) => string,
  filename: string,
) {
  async function* body() {
    yield csvLine([...header])
    for await (const page of pages) {
      let chunk = ''
      for (const b of page.buckets) chunk += lines(b, page)
      if (chunk) yield chunk
    }
  }
  return reply
    .type('text/csv; charset=utf-8')
    .header('content-disposition', `attachment; filename="${filename}"`)
    // What JSON pages say in `sources`: a CSV must not hide which sources it counted.
    .header('x-usage-sources', sources.join(','))
    .send(Readable.from(body()))
}
