import type { AddressInfo } from 'node:net'
import { gzipSync } from 'node:zlib'
import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

// A billed-cost CSV is parsed into rows held in memory, so it has its own limit, BILLED_CSV_BODY_LIMIT
// (docs/reliability.md "Round 12"). The route used to read the whole body into a Buffer, then a string,
// then parse it in one synchronous run, bounded only by BODY_LIMIT (the route's, which Fastify applies
// over the parser's CSV_BODY_LIMIT): a 31 MiB export held a server at 1.6 GB. It is now read as it
// arrives: over the limit (decoded bytes) a 413 problem the client reads, nothing written.

const LIMIT = 64 * 1024
const HEADER = 'start_time,end_time,amount_value,amount_currency,line_item,project_id\n'
const DAY = 86_400
const D0 = 1759795200
const row = (i: number) => `${D0 + (i % 30) * DAY},${D0 + (i % 30 + 1) * DAY},0.${i}5,usd,"gpt-4o, input",proj_é${Math.floor(i / 30)}\n`
const csv = (rows: number) => HEADER + Array.from({ length: rows }, (_, i) => row(i)).join('')

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine, { BILLED_CSV_BODY_LIMIT: String(LIMIT) })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/v1/billing/costs`
  const { key, tenantId } = await tenantWithKey(app, ['ingest'])
  const stored = async () => (await app.testDb.query<{ n: number }>('select count(*)::int8 as n from billed_costs where tenant_id = $1', [tenantId]))[0]!.n
  const post = (body: Buffer | ReadableStream<Uint8Array>, headers: Record<string, string> = {}) =>
    fetch(url, { method: 'POST', headers: { ...bearer(key), 'content-type': 'text/csv', ...headers }, body, duplex: 'half' } as RequestInit)
  // A body streamed in pieces of `size` bytes, without Content-Length: characters and lines split across chunks.
  const chunked = (bytes: Buffer, size: number) =>
    new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < bytes.length; i += size) c.enqueue(bytes.subarray(i, i + size))
        c.close()
      },
    })

  const within = Buffer.from(csv(600))
  const over = Buffer.from(csv(1200))
  t.ok(within.length < LIMIT && over.length > LIMIT)

  await t.test('a body within the limit, streamed in 7-byte pieces, is stored row for row', async (t) => {
    const res = await post(chunked(within, 7))
    t.equal(res.status, 200, await res.clone().text())
    t.same(await res.json(), { received: 600, skipped: 0, created: 600, replaced: 0, unchanged: 0 })
    const [one] = await app.testDb.query<{ amount: string; project_id: string }>(
      `select amount::text as amount, project_id from billed_costs where tenant_id = $1 and start_time = to_timestamp(${D0 + 7 * DAY}) and project_id = 'proj_é19'`,
      [tenantId],
    )
    t.same(one, { amount: '0.5775', project_id: 'proj_é19' }, 'row 577: a two-byte character split across pieces arrives whole')
    await app.testDb.query('delete from billed_costs where tenant_id = $1', [tenantId])
  })

  for (const [name, send] of [
    ['with Content-Length', () => post(over)],
    ['streamed without Content-Length', () => post(chunked(over, 4096))],
    ['gzip, inflating past the limit', () => post(gzipSync(over), { 'content-encoding': 'gzip' })],
  ] as const) {
    await t.test(`a body over BILLED_CSV_BODY_LIMIT ${name}: 413 problem naming the limit, nothing written`, async (t) => {
      const res = await send()
      t.equal(res.status, 413)
      t.match(res.headers.get('content-type'), /^application\/problem\+json/)
      t.match(await res.json(), { type: /payload-too-large/, detail: `the request body exceeds the limit of ${LIMIT} bytes` })
      t.equal(await stored(), 0)
    })
  }

  await t.test('a 4 MiB body: the client reads the 413 (the rest of the body is drained, not cut off)', async (t) => {
    const res = await post(Buffer.from(csv(70_000)))
    t.equal(res.status, 413)
    t.equal(await stored(), 0)
    const after = await post(within)
    t.equal(after.status, 200, 'the next upload is served')
  })

  await t.test('invalid UTF-8 split across pieces is still a 400 naming its line', async (t) => {
    const bad = Buffer.concat([Buffer.from(HEADER + row(0) + row(1)), Buffer.from('1759795200,1759881600,1,usd,caf'), Buffer.from([0xe9]), Buffer.from(',p\n')])
    const res = await post(chunked(bad, 5))
    t.equal(res.status, 400)
    t.match(await res.json(), { errors: [{ line: 4, message: /not valid UTF-8/ }] })
  })
})
