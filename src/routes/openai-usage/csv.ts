import { Readable } from 'node:stream'
import type { FastifyReply } from 'fastify'
import { prefers } from '../../http/accept.js'
import { bucketCsvLines, csvLine } from '../../usage/report/csv-lines.js'
import { primed, type BucketRows, type ReportPage, type Stream } from '../../usage/report/report.js'

/**
 * Whether `Accept` asks for CSV over JSON (src/http/accept.ts). Any mention of text/csv used to win:
 * `text/csv;q=0` ("never CSV") and `application/json, text/csv;q=0.1` got CSV.
 */
export function wantsCsv(accept: string | undefined): boolean {
  return prefers(accept, 'text/csv', 'application/json')
}

/**
 * Streams the header, then each page's buckets as their rows are read (memory holds one bucket at a
 * time). The body is started before it is handed to the reply, so a client that leaves before the
 * first byte still closes the statement.
 */
export function sendCsv(
  reply: FastifyReply,
  header: readonly string[],
  { sources, pages }: { sources: string[]; pages: Stream<ReportPage> },
  lines: (bucket: BucketRows, page: ReportPage) => string,
  filename: string,
) {
  async function* body() {
    try {
      yield csvLine([...header])
      for await (const page of pages)
        for await (const b of page.buckets) {
          const chunk = lines(b, page)
          if (chunk) yield chunk
        }
    } finally {
      await pages.return()
    }
  }
  return reply
    .type('text/csv; charset=utf-8')
    .header('content-disposition', `attachment; filename="${filename}"`)
    // What JSON pages say in `sources`: a CSV must not hide which sources it counted.
    .header('x-usage-sources', sources.join(','))
    .send(Readable.from(primed(body())))
}

/** A report streamed as CSV, each bucket's results (as cells) in `columns`. */
export function csvReport(
  reply: FastifyReply,
  columns: readonly string[],
  report: { sources: string[]; pages: Stream<ReportPage> },
  cells: (bucket: BucketRows, page: ReportPage) => Record<string, unknown>[],
  filename: string,
) {
  return sendCsv(reply, columns, report, (b, p) => bucketCsvLines(b, columns, cells(b, p)), filename)
}
