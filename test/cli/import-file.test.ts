import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { build, eachEngine, tenantWithKey } from '../helpers.js'
import { runCli } from './run-cli.js'

// A file that cannot be read was reported as the server being unreachable: the read failed inside the
// request body, and fetch's failure became "cannot reach <server>: EISDIR".

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  const { key } = await tenantWithKey(app)
  const dir = await mkdtemp(join(tmpdir(), 'tl-import-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))

  t.test('a path that is not a readable file says so, not that the server cannot be reached', async (t) => {
    for (const name of ['usage.csv', 'usage.json', 'usage']) {
      const path = join(dir, name)
      await mkdir(path)
      const r = await runCli(['import', path], { TOKENLEDGER_URL: url, TOKENLEDGER_KEY: key })
      t.equal(r.code, 1, name)
      t.match(r.stderr, new RegExp(`tokenledger: cannot read ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: EISDIR\\n$`), name)
      t.notMatch(r.stderr, /cannot reach/, name)
    }
  })
})
