import { once } from 'node:events'
import { connect, type AddressInfo } from 'node:net'
import Fastify from 'fastify'
import t from 'tap'
import app from '../../src/app.js'
import { requestIdOptions, routerErrorOptions } from '../../src/plugins/errors.js'
import { admin, build, eachEngine, freshDb, rawHttp, testConfig } from '../helpers.js'

// "Every response carries x-request-id; every problem body carries the same value as request_id." The
// answers given before any route hook runs — the router's (a malformed percent-escape, an over-long path
// parameter) and the HTTP parser's (headers over the limit, not HTTP at all) — carried neither the header
// nor, for the parser's, the body's request_id.
void t.test('problems answered before any hook carry x-request-id, equal to request_id', (t) =>
  eachEngine(t, async (t, engine) => {
    const app = await build(t, engine)
    await app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = app.server.address() as AddressInfo
    const raw = (request: string) => rawHttp(port, request)
    const cases = [
      { name: 'a malformed percent-escape in the path', request: 'GET /v1/tenants/%ED%A0%80/api-keys HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', status: 400 },
      { name: 'a path parameter over the router limit', request: `GET /v1/tenants/${'a'.repeat(5000)}/api-keys HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, status: 400 },
      { name: 'headers over the size limit', request: `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(70_000)}\r\n\r\n`, status: 431 },
      { name: 'a request that is not HTTP', request: 'NOT HTTP AT ALL\r\n\r\n', status: 400 },
    ]
    for (const c of cases) {
      const res = await raw(c.request)
      const [head = '', body = ''] = res.split('\r\n\r\n')
      t.match(head, new RegExp(`^HTTP/1\\.1 ${c.status} `), `${c.name}: ${c.status}`)
      const id = /^x-request-id: *(\S+)/im.exec(head)?.[1]
      t.ok(id, `${c.name}: x-request-id`)
      t.equal((JSON.parse(body) as { request_id?: string }).request_id, id, `${c.name}: request_id = x-request-id`)
    }
  }),
)

// A body that stalls past requestTimeout is answered 408 on the raw socket (src/plugins/errors.ts,
// clientErrorHandler). Its headers were parsed and its request had an id — logged, and the client's own
// x-request-id when it sent one — but the 408 carried a fresh one, which no log line named.
void t.test("a body that stalls past requestTimeout is answered 408 with the request's own id", (t) =>
  eachEngine(t, async (t, engine) => {
    const server = Fastify({
      ...routerErrorOptions,
      logger: false,
      ...requestIdOptions,
      requestTimeout: 1000,
      http: { ...routerErrorOptions.http, requestTimeout: 1000, headersTimeout: 1000, connectionsCheckingInterval: 100 },
    })
    const seen: string[] = []
    server.addHook('onRequest', async (request) => {
      seen.push(request.id)
    })
    await server.register(app, { config: testConfig(), db: await freshDb(t, engine) })
    await server.listen({ port: 0, host: '127.0.0.1' })
    t.teardown(() => server.close())
    const { port } = server.server.address() as AddressInfo
    /** Sends the headers and 10 of 100 bytes of body, then nothing; resolves with the answer once the server closes. */
    const stall = async (extraHeader: string) => {
      const socket = connect(port, '127.0.0.1')
      t.teardown(() => socket.destroy())
      await once(socket, 'connect')
      let received = ''
      socket.on('data', (d: Buffer) => (received += d.toString()))
      socket.on('error', () => {})
      socket.write(
        `POST /v1/tenants HTTP/1.1\r\nHost: x\r\nAuthorization: ${admin.authorization}\r\nContent-Type: application/json\r\n` +
          `Content-Length: 100\r\n${extraHeader}\r\n{"id": "st`,
      )
      await once(socket, 'close')
      const [head = '', body = ''] = received.split('\r\n\r\n')
      return { head, body: JSON.parse(body || '{}') as { request_id?: string; status?: number; instance?: string } }
    }

    const own = await stall('X-Request-Id: stalled-body-1\r\n')
    t.match(own.head, /^HTTP\/1\.1 408 /, 'answered 408')
    t.match(own.head, /^x-request-id: stalled-body-1$/im, "the client's id in x-request-id")
    t.equal(own.body.request_id, 'stalled-body-1', 'and in request_id')
    t.equal(own.body.instance, '/v1/tenants', 'instance names the request')

    const made = await stall('')
    const id = /^x-request-id: *(\S+)/im.exec(made.head)?.[1]
    t.match(made.head, /^HTTP\/1\.1 408 /, 'answered 408')
    t.equal(id, seen.at(-1), 'a generated id is the one the request was given')
    t.equal(made.body.request_id, id, 'request_id = x-request-id')
  }),
)
