import type { AddressInfo } from 'node:net'
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib'
import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'
import { rowCount, storedRows } from '../factories/buckets.js'

// Compressed request bodies (src/plugins/request-encoding.ts), over a real socket so that Content-Length
// is the compressed size as a client sends it: gzip, deflate and br bodies are stored exactly as the
// plain body; an unknown coding is a 415 naming the accepted ones; a corrupt body a 400; a body that
// inflates past the limit a 413 — each writing nothing.

const HEADER = 'start_time,end_time,model,batch,num_model_requests,input_tokens,input_cached_tokens,output_tokens'
const csvBody = (n: number) =>
  [HEADER, ...Array.from({ length: n }, (_, i) => `${1735689600 + i * 86400},${1735776000 + i * 86400},gpt-4o,FALSE,${i + 1},${100 + i},${i},${7 * i}`)].join('\n') + '\n'
const jsonBody = (n: number) =>
  JSON.stringify({ buckets: Array.from({ length: n }, (_, i) => ({ start_time: 1735689600 + i * 86400, end_time: 1735776000 + i * 86400, model: 'gpt-4o-mini', input_tokens: 10 + i, output_tokens: i })) })

const CODINGS: Record<string, (b: Buffer) => Buffer> = { gzip: gzipSync, deflate: deflateSync, br: brotliCompressSync }
const stable = (rows: Record<string, unknown>[]) =>
  rows.map(({ id: _id, tenant_id: _t, created_at: _c, updated_at: _u, ingested_at: _i, ...rest }) => rest)

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine, { BODY_LIMIT: String(64 * 1024) })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/v1/usage/buckets`
  const post = (key: string, body: Buffer, type: string, encoding?: string) =>
    fetch(url, { method: 'POST', headers: { ...bearer(key), 'content-type': type, ...(encoding ? { 'content-encoding': encoding } : {}) }, body })

  for (const [type, make] of [['text/csv', csvBody], ['application/json', jsonBody]] as const) {
    const plain = Buffer.from(make(40))
    const reference = await tenantWithKey(app, ['ingest'])
    const ref = await post(reference.key, plain, type)
    t.equal(ref.status, 200, `${type} plain`)
    const counts = await ref.json()
    const expected = stable(await storedRows(app, reference.tenantId))
    t.equal(expected.length, 40)

    for (const [coding, encode] of Object.entries(CODINGS)) {
      await t.test(`${type}, Content-Encoding ${coding}: stored as the plain body`, async (t) => {
        const { key, tenantId } = await tenantWithKey(app, ['ingest'])
        const res = await post(key, encode(plain), type, coding)
        t.equal(res.status, 200, await res.clone().text())
        t.same(await res.json(), counts, 'the counts of the plain body')
        t.same(stable(await storedRows(app, tenantId)), expected)
      })
    }

    await t.test(`${type}: an unknown coding → 415 naming the accepted ones, nothing written`, async (t) => {
      const { key, tenantId } = await tenantWithKey(app, ['ingest'])
      for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) t.equal((await post(key, plain, type, name)).status, 415, name)
      const res = await post(key, plain, type, 'compress')
      t.equal(res.status, 415)
      t.match(res.headers.get('content-type'), /application\/problem\+json/)
      t.match(res.headers.get('accept-encoding'), /gzip/)
      t.match(((await res.json()) as { detail: string }).detail, /compress.*gzip, deflate, br, identity/)
      t.equal(await rowCount(app, tenantId), 0)
    })

    await t.test(`${type}: two codings → 415; identity → the body as sent`, async (t) => {
      const { key, tenantId } = await tenantWithKey(app, ['ingest'])
      t.equal((await post(key, gzipSync(gzipSync(plain)), type, 'gzip, gzip')).status, 415)
      t.equal(await rowCount(app, tenantId), 0)
      t.equal((await post(key, plain, type, 'identity')).status, 200)
      t.equal(await rowCount(app, tenantId), 40)
    })

    await t.test(`${type}: a body that is not gzip → 400 problem, nothing written`, async (t) => {
      const { key, tenantId } = await tenantWithKey(app, ['ingest'])
      const res = await post(key, plain, type, 'gzip')
      t.equal(res.status, 400)
      t.match(((await res.json()) as { detail: string }).detail, /not valid gzip/)
      const cut = gzipSync(plain).subarray(0, 60)
      const truncated = await post(key, cut, type, 'gzip')
      t.equal(truncated.status, 400, 'a truncated stream too')
      t.equal(await rowCount(app, tenantId), 0)
    })
  }

  await t.test('JSON that inflates past BODY_LIMIT → 413, nothing written (the limit counts decoded bytes)', async (t) => {
    const { key, tenantId } = await tenantWithKey(app, ['ingest'])
    const big = Buffer.from(jsonBody(2000))
    t.ok(big.length > 64 * 1024 && gzipSync(big).length < 64 * 1024, 'compressed under the limit, decoded over it')
    const res = await post(key, gzipSync(big), 'application/json', 'gzip')
    t.equal(res.status, 413)
    t.equal(await rowCount(app, tenantId), 0)
  })
})

void t.test('CSV that inflates past CSV_BODY_LIMIT → 413, nothing written', async (t) => {
  const app = await build(t, 'pglite', { CSV_BODY_LIMIT: String(64 * 1024) })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { key, tenantId } = await tenantWithKey(app, ['ingest'])
  // 10 MB of one repeated row: about 30 kB compressed.
  const bomb = gzipSync(Buffer.from(HEADER + '\n' + '1735689600,1735776000,gpt-4o,FALSE,1,1,0,1\n'.repeat(250_000)))
  const res = await fetch(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}/v1/usage/buckets`, {
    method: 'POST',
    headers: { ...bearer(key), 'content-type': 'text/csv', 'content-encoding': 'gzip' },
    body: bomb,
  })
  t.equal(res.status, 413, await res.clone().text())
  t.equal(await rowCount(app, tenantId), 0)
})
