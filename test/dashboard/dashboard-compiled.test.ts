import { spawn } from 'node:child_process'
import t from 'tap'
import { loadDashboardAssets } from '../../src/dashboard/index.js'
import { ADMIN_TOKEN } from '../helpers.js'
import { DIST_SERVER, ensureBuilt, ROOT } from '../setup/compiled.js'
import { track } from '../setup/children.js'

// The page's assets are compiled string modules plus a file of node_modules, so the compiled server must
// serve exactly what the source server serves — whatever directory dist/ ends up in.
t.test('node dist/server.js serves the same dashboard page and assets as the source', async (t) => {
  await ensureBuilt()
  const child = track(spawn(process.execPath, [DIST_SERVER], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', DATA_DIR: 'memory://', LOG_LEVEL: 'info', TOKENLEDGER_ADMIN_TOKEN: ADMIN_TOKEN },
    stdio: ['ignore', 'pipe', 'pipe'],
  }))
  t.teardown(() => child.kill('SIGKILL'))
  let out = ''
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(out)
      if (m) resolve(Number(m[1]))
    })
    child.on('exit', (code) => reject(new Error(`exited (${code}) before listening`)))
  })

  const { page, assets } = loadDashboardAssets()
  const res = await fetch(`http://127.0.0.1:${port}/`)
  t.equal(res.status, 200)
  t.equal(res.headers.get('content-type'), page.type)
  t.equal(await res.text(), page.body.toString(), 'the same page')
  for (const [file, a] of assets) {
    const r = await fetch(`http://127.0.0.1:${port}/dashboard/assets/${file}`, { headers: { 'accept-encoding': 'identity' } })
    t.equal(r.status, 200, file)
    t.equal(r.headers.get('content-type'), a.type, `${file} content type`)
    t.ok(Buffer.from(await r.arrayBuffer()).equals(a.body), `${file}: the same bytes`)
  }
  child.kill('SIGTERM')
})
