import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import type { Test } from 'tap'
import { createPostgresDb, type DbClient } from '../../../src/db/client.js'
import { ADMIN_TOKEN, admin } from '../../helpers.js'
import { ensurePostgresTemplate, withDatabase } from '../../setup/templates.js'
import { track } from '../../setup/children.js'
import { OPENAI_KEY, SYNC_CONFIG } from './harness.js'
import type { StubProvider } from './stub-provider.js'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))

export interface ServerProcess {
  child: ChildProcess
  url: Promise<string>
  exit: Promise<number | null>
  stdout: () => string
  stderr: () => string
}

/** A real tokenledger server process (node + tsx, as test/operations/process.test.ts), killed at teardown. */
export function startServer(t: Test, env: Record<string, string>): ServerProcess {
  const child = track(spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: ROOT,
    env: { ...process.env, ...SYNC_CONFIG, PORT: '0', LOG_LEVEL: 'info', TOKENLEDGER_ADMIN_TOKEN: ADMIN_TOKEN, RATE_LIMIT_PER_MINUTE: 'off', UNDER_PRESSURE: 'off', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  }))
  let out = ''
  let err = ''
  const url = new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out)
      if (m) resolve(m[1]!)
    })
    child.on('exit', () => reject(new Error(`exited before listening: ${err}`)))
  })
  url.catch(() => {})
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()))
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)))
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL')
  })
  return { child, url, exit, stdout: () => out, stderr: () => err }
}

/** A fresh PostgreSQL database cloned from the migrated template: its URL and a client, dropped at teardown. */
export async function freshPostgres(t: Test): Promise<{ url: string; db: DbClient }> {
  const base = process.env.TEST_DATABASE_URL!
  const template = await ensurePostgresTemplate(base)
  const name = `${template.replace(/_tpl_.*/, '')}_p_${randomBytes(5).toString('hex')}`
  const admin = createPostgresDb({ url: base, poolSize: 1 })
  await admin.query(`create database "${name}" template "${template}"`)
  const url = withDatabase(base, name)
  const db = createPostgresDb({ url, poolSize: 2 })
  t.teardown(async () => {
    await db.close()
    await admin.query(`drop database if exists "${name}" with (force)`)
    await admin.close()
  })
  return { url, db }
}

/** JSON over HTTP to a server process. */
export async function call(base: string, method: string, path: string, headers: Record<string, string>, body?: unknown) {
  const res = await fetch(`${base}${path}`, { method, headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) })
  const text = await res.text()
  return { status: res.status, json: (text ? JSON.parse(text) : undefined) as Record<string, unknown> & { id: string } }
}

/** A new tenant on a running server process, with a key that ingests and reads. */
export async function tenantOver(base: string) {
  const id = `t-${Date.now()}`
  await call(base, 'POST', '/v1/tenants', admin, { id, name: id })
  const key = await call(base, 'POST', `/v1/tenants/${id}/api-keys`, admin, { name: 'k', scopes: ['ingest', 'read'] })
  return { tenantId: id, headers: { authorization: `Bearer ${String(key.json.key)}` } }
}

/** A server process on `env`, a new tenant on it and an OpenAI `completions` connection there to `stub`, from its first data. */
export async function connectionOnServer(t: Test, stub: StubProvider, env: Record<string, string>) {
  const server = startServer(t, env)
  const base = await server.url
  const { headers } = await tenantOver(base)
  const created = await call(base, 'POST', '/v1/connections', headers, {
    name: 'o', provider: 'openai', admin_key: OPENAI_KEY, base_url: stub.url, start_date: new Date(stub.opts.dataStart).toISOString(), endpoints: ['completions'],
  })
  t.equal(created.status, 201)
  return { server, base, headers, id: created.json.id }
}
