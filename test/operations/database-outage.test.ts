import { createServer, Socket, type Server } from 'node:net'
import Fastify from 'fastify'
import t from 'tap'
import app from '../../src/app.js'
import { ADMIN_TOKEN, testConfig } from '../helpers.js'
import { ensurePostgresTemplate, withDatabase } from '../setup/templates.js'
import { createPostgresDb } from '../../src/db/client.js'

/** A TCP proxy to PostgreSQL that can be switched off and on, to simulate an outage. */
function outageProxy(target: URL) {
  let server: Server | undefined
  const sockets = new Set<Socket>()
  let port = 0
  return {
    get port() {
      return port
    },
    async reserve() {
      const probe = createServer()
      await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r))
      port = (probe.address() as { port: number }).port
      await new Promise<void>((r) => probe.close(() => r()))
    },
    async up() {
      server = createServer((client) => {
        const upstream = new Socket()
        upstream.connect(Number(target.port || 5432), target.hostname)
        for (const s of [client, upstream]) {
          sockets.add(s)
          s.on('close', () => sockets.delete(s))
          s.on('error', () => s.destroy())
        }
        client.pipe(upstream).pipe(client)
      })
      await new Promise<void>((r) => server!.listen(port, '127.0.0.1', r))
    },
    async down() {
      for (const s of sockets) s.destroy()
      if (server) await new Promise<void>((r) => server!.close(() => r()))
      server = undefined
    },
  }
}

const base = process.env.TEST_DATABASE_URL
t.test('PostgreSQL outage: 503 with Retry-After while down, recovery without a restart', { skip: base ? false : 'needs TEST_DATABASE_URL' }, async (t) => {
  const template = await ensurePostgresTemplate(base!)
  const name = `${template.replace(/_tpl_.*/, '')}_outage_${process.pid}`
  const adminDb = createPostgresDb({ url: base!, poolSize: 1 })
  await adminDb.query(`create database "${name}"`)
  t.teardown(async () => {
    await adminDb.query(`drop database if exists "${name}" with (force)`)
    await adminDb.close()
  })
  const target = new URL(withDatabase(base!, name))
  const proxy = outageProxy(target)
  await proxy.reserve()
  t.teardown(() => proxy.down())
  const viaProxy = new URL(target)
  viaProxy.hostname = '127.0.0.1'
  viaProxy.port = String(proxy.port)

  // Starts while the database is down: it listens, /healthz is 200, the rest 503 with Retry-After.
  const server = Fastify({ logger: false })
  await server.register(app, { config: testConfig({ DATABASE_URL: viaProxy.toString(), DB_RETRY_MS: '200' }) })
  await server.ready()
  t.teardown(() => server.close())
  t.equal((await server.inject('/healthz')).statusCode, 200)
  for (const url of ['/readyz', '/v1/me']) {
    const res = await server.inject({ url, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
    t.equal(res.statusCode, 503, `${url} is 503 while the database is down`)
    t.ok(res.headers['retry-after'], `${url} carries Retry-After`)
    t.match(res.headers['content-type'], /application\/problem\+json/)
    t.notMatch(res.body, /ECONNREFUSED|postgres/i, 'no driver message leaks')
  }

  // The database comes up: the server migrates by itself and serves.
  await proxy.up()
  let ready = 0
  for (let i = 0; i < 50 && ready !== 200; i++) {
    ready = (await server.inject('/readyz')).statusCode
    if (ready !== 200) await new Promise((r) => setTimeout(r, 100))
  }
  t.equal(ready, 200, 'ready once the database answers')
  const me = await server.inject({ url: '/v1/me', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
  t.equal(me.statusCode, 200)

  // It goes down again mid-flight: 503, then recovery once more.
  await proxy.down()
  const during = await server.inject({ url: '/v1/tenants', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
  t.equal(during.statusCode, 503, 'a query during the outage is 503')
  t.ok(during.headers['retry-after'])
  await proxy.up()
  let back = 0
  for (let i = 0; i < 50 && back !== 200; i++) {
    back = (await server.inject({ url: '/v1/tenants', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).statusCode
    if (back !== 200) await new Promise((r) => setTimeout(r, 100))
  }
  t.equal(back, 200, 'recovers without a restart')
})
