import { Readable } from 'node:stream'
import type { FastifyReply } from 'fastify'
import { pageTail, primed, type BucketRows, type ReportPage } from '../../usage/report/report.js'

/**
 * OpenAI's page (`object`, `data`, then `has_more`, `next_page`, `sources`) streamed bucket by bucket as
 * the rows are read. The results are the report's own objects, built field by field in the order of the
 * route's response schema (usage-results.ts, cost-results.ts, resource-results.ts) and written as they
 * are: running each through the schema again cost ~2.5 ms per 300 results, a tenth of a 1,500-result
 * listing (docs/rest-mirrors.md "Read ahead"). test/routes/mirror-page-bytes.test.ts reads every page of
 * every mirror and checks it is exactly the schema's serialization of itself.
 */
export function sendPage(reply: FastifyReply, page: ReportPage, results: (b: BucketRows) => unknown[]) {
  async function* body() {
    try {
      yield '{"object":"page","data":['
      let sep = ''
      for await (const b of page.buckets) {
        yield sep + JSON.stringify({ object: 'bucket', start_time: b.start, end_time: b.end, results: results(b) })
        sep = ','
      }
      yield `],${JSON.stringify(pageTail(page)).slice(1)}`
    } finally {
      await page.buckets.return()
    }
  }
  return reply.type('application/json; charset=utf-8').send(Readable.from(primed(body())))
}
