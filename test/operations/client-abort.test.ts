import { once } from 'node:events'
import { connect } from 'node:net'
import type { AddressInfo } from 'node:net'
import Fastify from 'fastify'
import t from 'tap'
import app from '../../src/app.js'
import { routerErrorOptions } from '../../src/plugins/errors.js'
import { eachEngine, freshDb, holdLocks, tenantWithKey, testConfig, waitFor, waitUntilBlocked } from '../helpers.js'

// A client that announces a body, sends part of it and hangs up: the body stream fails with
// ECONNRESET / "aborted", which the error pipeline took for the database's own connection errors — a
// warn line "503 the database is not reachable" per such client, a false outage for anyone alerting
// on it. It is a client's request, rejected (info), and nothing is written. Likewise a read whose client
// leaves while its statement waits: the statement is cancelled (query_canceled, which also means a
// statement timeout) and was logged as a 503 refusal; nobody is refused, so it is logged at info.
// A CSV export whose client left while its key was still being looked up never saw its disconnect (the
// response's 'close' came before the handler asked for it): its cursor was declared for nobody and waited
// on the locked tables, holding a connection and an export slot until the statement timeout.

void eachEngine(t, async (t, engine) => {
  const lines: Record<string, unknown>[] = []
  const config = testConfig({})
  const db = await freshDb(t, engine)
  const server = Fastify({
    ...routerErrorOptions,
    logger: { level: 'info', stream: { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) } },
    pluginTimeout: 120_000,
  })
  await server.register(app, { config, db })
  await server.listen({ host: '127.0.0.1', port: 0 })
  t.teardown(() => server.close())
  const { key, tenantId } = await tenantWithKey(server)
  const { port } = server.server.address() as AddressInfo

  for (const path of ['/v1/usage/buckets', '/v1/usage/events']) {
    const before = lines.length
    const socket = connect(port, '127.0.0.1')
    await once(socket, 'connect')
    socket.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\ncontent-type: application/json\r\nauthorization: Bearer ${key}\r\n\r\n{"buck`)
    // Hung up once the server has the request (a fixed pause could end before a loaded server read it).
    await waitFor(`the server to receive ${path}`, () => lines.slice(before).some((l) => l.msg === 'incoming request'), { timeoutMs: 30_000 })
    await new Promise((r) => setTimeout(r, 200))
    socket.destroy()
    const done = await waitFor(`${path} to be logged`, () => lines.slice(before).find((l) => l.msg === 'request rejected' || l.msg === 'request refused' || l.msg === 'request failed'), { timeoutMs: 30_000 })
      .catch(() => undefined)
    t.match(done, { level: 30, msg: 'request rejected', status: 400, detail: /client closed the connection/ }, `${path}: a client's request, rejected`)
    t.notOk(lines.slice(before).some((l) => /database is not reachable/.test(String(l.detail))), `${path}: not logged as a database outage`)
  }
  // PostgreSQL only: PGlite cannot cancel a statement, so the read runs to its end for nobody.
  if (engine === 'postgres') {
    const before = lines.length
    const held = await holdLocks(t, db, `lock table usage_buckets, usage_bucket_hourly, usage_bucket_daily, usage_events, usage_event_rollups,
      usage_resources, usage_event_resources in access exclusive mode`)
    const socket = connect(port, '127.0.0.1')
    await once(socket, 'connect')
    const body = JSON.stringify({ query: '{ usage(from: "2025-01-01T00:00:00Z", to: "2025-02-01T00:00:00Z") { totals { inputTokens } } }' })
    socket.write(`POST /graphql HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\nauthorization: Bearer ${key}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
    const waiting = async () =>
      (await db.query<{ n: number }>(`select count(*)::int8 as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`))[0]!.n
    await waitFor('the read to wait on the locked tables', async () => (await waiting()) > 0, { timeoutMs: 30_000 }).catch(() => undefined)
    t.equal(await waiting(), 1, 'the read waits on the locked tables')
    socket.destroy()
    const done = await waitFor('the read to be logged', () => lines.slice(before).find((l) => typeof l.msg === 'string' && /^request (abandoned|rejected|refused|failed)/.test(l.msg)), { timeoutMs: 30_000 })
      .catch(() => undefined)
    await held.release()
    t.match(done, { level: 30, msg: /^request abandoned/, status: 503 }, 'a read whose client left: its cancelled statement is no 503 refusal')
    t.notOk(lines.slice(before).some((l) => Number(l.level) >= 40), 'nothing at warn or above')
  }
  if (engine === 'postgres') {
    const before = lines.length
    const usage = await holdLocks(t, db, `lock table usage_buckets, usage_bucket_hourly, usage_bucket_daily, usage_events, usage_event_rollups,
      usage_resources, usage_event_resources in access exclusive mode`)
    const keys = await holdLocks(t, db, 'lock table api_keys in access exclusive mode')
    const socket = connect(port, '127.0.0.1')
    socket.on('error', () => {})
    await once(socket, 'connect')
    socket.write(`GET /v1/organization/usage/completions?start_time=1767225600&end_time=1767312000 HTTP/1.1\r\nHost: x\r\naccept: text/csv\r\nauthorization: Bearer ${key}\r\n\r\n`)
    await waitUntilBlocked(db, { query: '%api_keys%' })
    socket.destroy()
    const connections = () => new Promise<number>((r) => server.server.getConnections((_, n) => r(n)))
    await waitFor('the server to see its client leave', async () => (await connections()) === 0, { timeoutMs: 30_000 })
    await keys.release()
    const outcome = await waitFor('the export to be refused, or its cursor to wait on the locks', async () => {
      if (lines.slice(before).some((l) => typeof l.msg === 'string' && l.msg.startsWith('request abandoned'))) return 'refused before it was sent'
      const cursors = await db.query(`select 1 from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query like 'declare usage_rows%'`)
      return cursors.length > 0 && 'its cursor waits for nobody'
    }, { timeoutMs: 30_000 })
    await usage.release()
    t.equal(outcome, 'refused before it was sent', 'an export whose client left during its key lookup sends no statement')
  }
  const [stored] = await db.query<{ n: number }>('select ((select count(*) from usage_buckets where tenant_id = $1) + (select count(*) from usage_events where tenant_id = $1))::int8 as n', [tenantId])
  t.equal(Number(stored!.n), 0, 'nothing written')
})
