import { Readable } from 'node:stream'
import type { FastifyReply } from 'fastify'
import type { z } from 'zod'
import { pageTail, primed, type BucketRows, type ReportPage } from '../../usage/report/report.js'

/** A page schema made by `page()` (schemas.ts): its buckets are written one at a time. */
interface PageSchema {
  shape: { data: { element: z.ZodType } }
}

/**
 * OpenAI's page (`object`, `data`, then `has_more`, `next_page`, `sources`) streamed bucket by bucket as
 * the rows are read. Each bucket goes through the response schema as the reply serializer would send it
 * (parsed, then JSON), so the bytes are the same as a serialized page; the page's own fields are known
 * before the first row.
 */
export function sendPage(reply: FastifyReply, schema: PageSchema, page: ReportPage, results: (b: BucketRows) => unknown[]) {
  const bucket = schema.shape.data.element
  async function* body() {
    try {
      yield '{"object":"page","data":['
      let sep = ''
      for await (const b of page.buckets) {
        yield sep + JSON.stringify(bucket.parse({ object: 'bucket', start_time: b.start, end_time: b.end, results: results(b) }))
        sep = ','
      }
      yield `],${JSON.stringify(pageTail(page)).slice(1)}`
    } finally {
      await page.buckets.return()
    }
  }
  return reply.type('application/json; charset=utf-8').send(Readable.from(primed(body())))
}
