import { readFile } from 'node:fs/promises'
import t from 'tap'
import { parse } from 'yaml'
import { build } from './helpers.js'

t.test('openapi.yaml is exactly what /docs/json serves (run `npm run docs:generate`)', async (t) => {
  const app = await build(t, 'pglite')
  const served = (await app.inject('/docs/json')).json()
  const committed = parse(await readFile(new URL('../openapi.yaml', import.meta.url), 'utf8'))
  t.same(committed, served)
})

t.test('every route is documented with an operationId, tags and error responses', async (t) => {
  const app = await build(t, 'pglite')
  const doc = (await app.inject('/docs/json')).json() as {
    paths: Record<string, Record<string, { operationId?: string; tags?: string[]; responses?: Record<string, unknown> }>>
  }
  const ops = Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({ path, method, op })),
  )
  t.ok(ops.length > 0)
  for (const { path, method, op } of ops) {
    t.ok(op.operationId, `${method} ${path} has an operationId`)
    t.ok(op.tags?.length, `${method} ${path} has tags`)
    const codes = Object.keys(op.responses ?? {})
    t.ok(codes.some((c) => c.startsWith('2')), `${method} ${path} documents success`)
    if (path.startsWith('/v1/')) t.ok(codes.includes('401'), `${method} ${path} documents 401`)
  }
})

t.test('Swagger UI is served at /docs without auth', async (t) => {
  const app = await build(t, 'pglite')
  const res = await app.inject('/docs/')
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /text\/html/)
})
