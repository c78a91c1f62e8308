import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import t from 'tap'
import { main } from '../../src/cli/main.js'
import { build, eachEngine, tenantWithKey } from '../helpers.js'

// A file that cannot be read was reported as the server being unreachable: the read failed inside the
// request body, and fetch's failure became "cannot reach <server>: EISDIR".

async function run(args: string[], env: Record<string, string>) {
  const out = new PassThrough()
  const err = new PassThrough()
  let stdout = ''
  let stderr = ''
  out.on('data', (d: Buffer) => (stdout += d.toString()))
  err.on('data', (d: Buffer) => (stderr += d.toString()))
  const saved = { ...process.env }
  Object.assign(process.env, env)
  try {
    const code = await main(args, { stdout: out as unknown as NodeJS.WriteStream, stderr: err as unknown as NodeJS.WriteStream })
    return { code, stdout, stderr }
  } finally {
    for (const k of Object.keys(env)) if (saved[k] === undefined) delete process.env[k]
    else process.env[k] = saved[k]
  }
}

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
      const r = await run(['import', path], { TOKENLEDGER_URL: url, TOKENLEDGER_KEY: key })
      t.equal(r.code, 1, name)
      t.match(r.stderr, new RegExp(`tokenledger: cannot read ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: EISDIR\\n$`), name)
      t.notMatch(r.stderr, /cannot reach/, name)
    }
  })
})
