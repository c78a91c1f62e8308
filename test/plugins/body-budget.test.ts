import { once } from 'node:events'
import { connect, type AddressInfo, type Socket } from 'node:net'
import { gzipSync } from 'node:zlib'
import t, { type Test } from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'
import { rowCount } from '../factories/buckets.js'

// BODY_BYTES_IN_FLIGHT (src/plugins/body-budget.ts): the request bodies all requests in flight hold in
// memory share one budget. A body that does not fit the bytes left is a 503 + Retry-After before it is
// read, one that could never fit a 413; gzip bodies take their inflated size; what a request took is
// given back when it ends, however it ends. Over real sockets, on both engines; the budget's use is read
// from /metrics. Without it, 40 concurrent 30 MiB JSON bodies took a server to 5 GB (docs/reliability.md).

const KiB = 1024
const BUDGET = 100 * KiB
const HOLD = 60 * KiB
const HOUR = 3600
const T0 = 1735689600

/** A canonical bucket list of about `bytes` bytes (distinct hours, so every row stores). */
function bucketsJson(bytes: number): string {
  const rows: string[] = []
  for (let i = 0, len = 14; len < bytes - 200; i++) {
    const row = JSON.stringify({ start_time: T0 + i * HOUR, end_time: T0 + (i + 1) * HOUR, model: 'gpt-4o', input_tokens: i, output_tokens: 1 })
    rows.push(row)
    len += row.length + 1
  }
  return `{"buckets":[${rows.join(',')}]}`
}

const costCsv = (bytes: number) => {
  let csv = 'start_time,end_time,amount_value\n'
  for (let i = 0; csv.length < bytes - 40; i++) csv += `${T0 + i * 86_400},${T0 + (i + 1) * 86_400},0.${i}\n`
  return csv
}

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine, { BODY_LIMIT: String(64 * KiB), BODY_BYTES_IN_FLIGHT: String(BUDGET) })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as AddressInfo
  const base = `http://127.0.0.1:${port}`
  const { key, tenantId } = await tenantWithKey(app, ['ingest'])
  const post = (path: string, body: string | Buffer, type = 'application/json', headers: Record<string, string> = {}) =>
    fetch(`${base}${path}`, { method: 'POST', headers: { ...bearer(key), 'content-type': type, ...headers }, body })

  const held = async () => {
    const text = (await app.inject('/metrics')).body
    return Number(/^tokenledger_request_body_bytes_held (\d+)/m.exec(text)?.[1])
  }
  const until = async (what: string, ok: (n: number) => boolean) => {
    for (let i = 0; i < 500; i++) {
      if (ok(await held())) return
      await new Promise((r) => setTimeout(r, 20))
    }
    throw new Error(`the budget never showed ${what}: ${await held()}`)
  }
  /** A request that announces `length` bytes of JSON, sends ten of them and waits (holding its share). */
  const holder = async (length = HOLD): Promise<Socket> => {
    const socket = connect(port, '127.0.0.1')
    await once(socket, 'connect')
    socket.on('error', () => {})
    socket.write(`POST /v1/usage/buckets HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\nAuthorization: Bearer ${key}\r\n\r\n{"buckets"`)
    await until(`${length} bytes held`, (n) => n === length)
    return socket
  }
  const release = async (socket: Socket) => {
    socket.destroy()
    await until('nothing held', (n) => n === 0)
  }
  const refusedForNow = async (t: Test, res: Response) => {
    t.equal(res.status, 503)
    t.match(res.headers.get('content-type'), /^application\/problem\+json/)
    t.equal(res.headers.get('retry-after'), '2')
    t.match(await res.json(), { type: /overloaded/, detail: /request bodies/ })
  }

  await t.test('a body that does not fit what is left: 503 + Retry-After, nothing written; served once the holder hangs up', async (t) => {
    const socket = await holder()
    const body = bucketsJson(50 * KiB)
    await refusedForNow(t, await post('/v1/usage/buckets', body))
    t.equal(await rowCount(app, tenantId), 0)
    await release(socket)
    const res = await post('/v1/usage/buckets', body)
    t.equal(res.status, 200, await res.clone().text())
  })

  await t.test('the refusal comes before the body is read: a request that sends only its headers is answered', async (t) => {
    const socket = await holder()
    const probe = connect(port, '127.0.0.1')
    await once(probe, 'connect')
    probe.write(`POST /v1/usage/buckets HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${50 * KiB}\r\nAuthorization: Bearer ${key}\r\n\r\n`)
    const [head] = (await once(probe, 'data')) as [Buffer]
    t.match(head.toString(), /^HTTP\/1\.1 503 /)
    t.match(head.toString(), /retry-after: 2/i)
    probe.destroy()
    await release(socket)
  })

  await t.test('gzip takes its inflated bytes: a body of a few KiB inflating to 50 KiB does not fit the 40 KiB left', async (t) => {
    const socket = await holder()
    const gz = gzipSync(bucketsJson(50 * KiB).replaceAll('gpt-4o', 'gpt-4o-gz'))
    t.ok(gz.length < 10 * KiB, `${gz.length} bytes on the wire`)
    const before = await rowCount(app, tenantId)
    await refusedForNow(t, await post('/v1/usage/buckets', gz, 'application/json', { 'content-encoding': 'gzip' }))
    t.equal(await rowCount(app, tenantId), before, 'nothing written')
    await release(socket)
    const res = await post('/v1/usage/buckets', gz, 'application/json', { 'content-encoding': 'gzip' })
    t.equal(res.status, 200, await res.clone().text())
  })

  await t.test('a spooled usage CSV takes nothing; a cost CSV takes twice its bytes', async (t) => {
    const socket = await holder()
    const usage = 'start_time,end_time,model,input_tokens\n' + Array.from({ length: 1500 }, (_, i) => `${T0 + i * HOUR},${T0 + (i + 1) * HOUR},gpt-4o-csv,${i}`).join('\n')
    t.ok(usage.length > 50 * KiB)
    const res = await post('/v1/usage/buckets', usage, 'text/csv')
    t.equal(res.status, 200, await res.clone().text())
    const costs = costCsv(25 * KiB)
    await refusedForNow(t, await post('/v1/billing/costs', costs, 'text/csv'))
    await release(socket)
    t.equal((await post('/v1/billing/costs', costs, 'text/csv')).status, 200)
  })

  await t.test('a body that could never fit is a 413 naming the tighter limit', async (t) => {
    const res = await post('/v1/billing/costs', costCsv(60 * KiB), 'text/csv')
    t.equal(res.status, 413)
    t.match(await res.json(), { type: /payload-too-large/, detail: `the request body exceeds the ${BUDGET / 2} bytes of such bodies this server holds at once (BODY_BYTES_IN_FLIGHT)` })
    const json = await post('/v1/usage/buckets', bucketsJson(120 * KiB))
    t.equal(json.status, 413)
    t.match(await json.json(), { detail: `the request body exceeds the limit of ${64 * KiB} bytes` }, 'JSON: BODY_LIMIT, as Fastify names it')
  })

  await t.test('every request gives back what it took, however it ends', async (t) => {
    const body = bucketsJson(60 * KiB)
    const ends = [
      () => post('/v1/usage/buckets', body), // 200 (then unchanged)
      () => post('/v1/usage/buckets', body.replace('"model"', '"modle"')), // 400, a bad row
      () => post('/v1/usage/buckets', body.slice(0, -5)), // 400, malformed JSON
      () => post('/v1/usage/buckets', body, 'text/plain'), // 415
      () => post('/v1/usage/buckets', body + ' '.repeat(10 * KiB)), // 413, over BODY_LIMIT
      () => post('/v1/usage/events', `{"events":[${'{"id":"x"},'.repeat(5000)}{"id":"y"}]}`), // 200, events rejected one by one
    ]
    const statuses: number[] = []
    for (let round = 0; round < 4; round++) for (const send of ends) statuses.push((await send()).status)
    t.notOk(statuses.includes(503), `never refused for want of budget: ${statuses.join(' ')}`)
    t.same([...new Set(statuses)].sort(), [200, 400, 413, 415])
    await until('nothing held', (n) => n === 0)
  })
})
