import { once } from 'node:events'
import { connect } from 'node:net'
import type { AddressInfo } from 'node:net'
import Fastify from 'fastify'
import t from 'tap'
import app from '../../src/app.js'
import { routerErrorOptions } from '../../src/plugins/errors.js'
import { eachEngine, freshDb, tenantWithKey, testConfig } from '../helpers.js'

// A client that announces a body, sends part of it and hangs up: the body stream fails with
// ECONNRESET / "aborted", which the error pipeline took for the database's own connection errors — a
// warn line "503 the database is not reachable" per such client, a false outage for anyone alerting
// on it. It is a client's request, rejected (info), and nothing is written.

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
    await new Promise((r) => setTimeout(r, 200))
    socket.destroy()
    let done: Record<string, unknown> | undefined
    for (let i = 0; i < 100 && !done; i++) {
      await new Promise((r) => setTimeout(r, 50))
      done = lines.slice(before).find((l) => l.msg === 'request rejected' || l.msg === 'request refused' || l.msg === 'request failed')
    }
    t.match(done, { level: 30, msg: 'request rejected', status: 400, detail: /client closed the connection/ }, `${path}: a client's request, rejected`)
    t.notOk(lines.slice(before).some((l) => /database is not reachable/.test(String(l.detail))), `${path}: not logged as a database outage`)
  }
  const [stored] = await db.query<{ n: number }>('select ((select count(*) from usage_buckets where tenant_id = $1) + (select count(*) from usage_events where tenant_id = $1))::int8 as n', [tenantId])
  t.equal(Number(stored!.n), 0, 'nothing written')
})
