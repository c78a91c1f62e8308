import { connect, type AddressInfo } from 'node:net'
import t from 'tap'
import { ADMIN_TOKEN, build, eachEngine, tenantWithKey } from '../helpers.js'

// Node keeps the first of several Authorization headers and joins repeated X-Tenant-Id values with ", ":
// a request naming two credentials was answered as the first one (a proxy or log reading the last names
// another caller), and one naming two tenants as a 404 for a tenant "a, a" (a key: a 403). Sent over a
// socket (inject cannot send a header twice), kept open until the server closes it: a client that
// half-closes first has its answer dropped by Node (its server does not allow half-open sockets).

interface Answer {
  status: number
  body: { type?: string; errors?: { path: string; message: string }[]; request_id?: string; kind?: string }
}

async function send(port: number, method: string, path: string, headers: [string, string][], body?: string): Promise<Answer> {
  const lines = headers.map(([k, v]) => `${k}: ${v}\r\n`).join('')
  const length = body === undefined ? '' : `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`
  const res = await new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = []
    const socket = connect(port, '127.0.0.1', () => socket.write(`${method} ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${lines}${length}\r\n${body ?? ''}`))
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.on('error', reject)
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')))
  })
  const [head = '', text = ''] = res.split('\r\n\r\n')
  return { status: Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1]), body: JSON.parse(text) as Answer['body'] }
}

void t.test('Authorization or X-Tenant-Id sent twice is a 400 naming the header, on REST and GraphQL', (t) =>
  eachEngine(t, async (t, engine) => {
    const app = await build(t, engine)
    const { tenantId, key } = await tenantWithKey(app)
    await app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = app.server.address() as AddressInfo
    const asAdmin: [string, string] = ['Authorization', `Bearer ${ADMIN_TOKEN}`]
    const asKey: [string, string] = ['Authorization', `Bearer ${key}`]
    const tenant: [string, string] = ['X-Tenant-Id', tenantId]

    const me = await send(port, 'GET', '/v1/me', [asAdmin, tenant])
    t.equal(me.status, 200, 'each header once: answered')

    const cases: { name: string; headers: [string, string][]; paths: string[] }[] = [
      { name: 'the admin token, then a wrong token', headers: [asAdmin, ['authorization', 'Bearer wrong']], paths: ['headers.authorization'] },
      { name: 'a tenant key, then the admin token', headers: [asKey, asAdmin, tenant], paths: ['headers.authorization'] },
      { name: 'the same tenant twice (admin)', headers: [asAdmin, tenant, ['x-tenant-id', tenantId]], paths: ['headers.x-tenant-id'] },
      { name: 'its own tenant twice (key)', headers: [asKey, tenant, tenant], paths: ['headers.x-tenant-id'] },
      { name: 'both twice', headers: [asKey, asKey, tenant, tenant], paths: ['headers.authorization', 'headers.x-tenant-id'] },
    ]
    const routes = [
      { method: 'GET', path: '/v1/me' },
      { method: 'GET', path: '/v1/budgets' },
      { method: 'POST', path: '/graphql', body: JSON.stringify({ query: '{ budgets { name } }' }) },
    ]
    for (const route of routes)
      for (const c of cases) {
        const res = await send(port, route.method, route.path, c.headers, route.body)
        t.equal(res.status, 400, `${route.method} ${route.path}, ${c.name}: 400`)
        t.match(res.body.type, /\/validation$/)
        t.same(res.body.errors?.map((e) => e.path), c.paths, `${route.method} ${route.path}, ${c.name}: names ${c.paths.join(', ')}`)
        t.match(res.body.errors?.[0]?.message, /is sent 2 times/)
      }
  }),
)
