import { readFile } from 'node:fs/promises'
import t from 'tap'
import { parse } from 'yaml'
import { CliConfigSchema, CONFIG_NAMES } from '../src/config.js'
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

t.test("the README's configuration table names every setting, and only settings", async (t) => {
  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8')
  const section = readme.slice(readme.indexOf('\n## Configuration'))
  const table = section.slice(0, section.indexOf('\n## ', 1))
  // A row names one or more variables in its first cell: | `PORT`, `HOST` | … |
  const documented = table
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .flatMap((line) => [...line.split('|')[1]!.matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((m) => m[1]!))
  const cli = Object.keys(CliConfigSchema.shape)
  t.same(CONFIG_NAMES.filter((name) => !documented.includes(name)), [], 'every server setting has a row')
  t.same(documented.filter((name) => !CONFIG_NAMES.includes(name) && !cli.includes(name)), [], 'every row is a server or CLI setting')
})
