import type { AddressInfo } from 'node:net'
import t from 'tap'
import { build, eachEngine, rawHttp } from '../helpers.js'

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
