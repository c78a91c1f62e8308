import { createServer, request } from 'node:http'
import t, { type Test } from 'tap'
import { main, type Io } from '../../src/cli/main.js'
import { ADMIN_TOKEN, build, eachEngine, fixturePath } from '../helpers.js'

/** Runs the CLI in this process, capturing its output. */
async function cli(argv: string[]) {
  let stdout = ''
  let stderr = ''
  const io = { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) } } as unknown as Io
  const code = await main(argv, io)
  return { code, stdout, stderr }
}

/** A reverse proxy serving the server under `/tl/` (as behind a path prefix); anything else is its own 404. */
async function prefixProxy(t: Test, target: string): Promise<string> {
  const to = new URL(target)
  const proxy = createServer((req, res) => {
    if (!req.url?.startsWith('/tl/')) return void res.writeHead(404, { 'content-type': 'text/plain' }).end('not found')
    const upstream = request(
      { host: to.hostname, port: to.port, method: req.method, path: req.url.slice(3), headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
      },
    )
    req.pipe(upstream)
  })
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise<void>((r) => proxy.close(() => r())))
  return `http://127.0.0.1:${(proxy.address() as { port: number }).port}/tl`
}

// The README serves tokenledger behind a path prefix (the dashboard works there); --url with that prefix
// must reach it. The CLI resolved absolute paths ("/v1/…") against the URL, which dropped the prefix.
void t.test('--url with a path prefix: every command calls the server under it', (t) =>
  eachEngine(t, async (t, engine) => {
    const csv = fixturePath(t, 'openai/completions_usage_2025-10-05_2025-10-12.sample.csv')
    if (!csv) return
    const app = await build(t, engine)
    const url = await prefixProxy(t, await app.listen({ port: 0, host: '127.0.0.1' }))
    for (const base of [url, `${url}/`]) {
      const tenant = `pfx-${base.endsWith('/') ? 'slash' : 'bare'}`
      const created = await cli(['tenants', 'create', tenant, '--url', base, '--admin-token', ADMIN_TOKEN])
      t.equal(created.code, 0, `tenants create via ${base} (${created.stderr.trim()})`)
      const keys = await cli(['keys', 'create', tenant, '--scopes', 'ingest,read', '--url', base, '--admin-token', ADMIN_TOKEN])
      t.equal(keys.code, 0, `keys create via ${base} (${keys.stderr.trim()})`)
      const key = keys.stdout.trim()
      const imported = await cli(['import', csv, '--url', base, '--key', key, '--json'])
      t.equal(imported.code, 0, `import via ${base} (${imported.stderr.trim()})`)
      t.match(JSON.parse(imported.stdout || '{}'), { received: 7 })
      const sync = await cli(['sync', 'conn_nope', '--url', base, '--key', key])
      t.match(sync.stderr, /404 .*connection conn_nope does not exist/, `sync via ${base} reaches the server`)
    }
  }),
)
