import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify'
import type { Test } from 'tap'
import app from '../src/app.js'
import { requestIdOptions, routerErrorOptions } from '../src/plugins/errors.js'
import { loadConfig, type Config } from '../src/config.js'
import { createPgliteDb, createPostgresDb, type Db, type DbClient, type Engine } from '../src/db/client.js'
import { migrate } from '../src/db/migrate.js'
import { ensurePgliteTemplate, ensurePostgresTemplate, withDatabase } from './setup/templates.js'

export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef'
export const FIXTURES = fileURLToPath(new URL('../../shared/fixtures/', import.meta.url))

/** The engines this run covers: PGlite always, PostgreSQL when TEST_DATABASE_URL is set. */
export function engines(): Engine[] {
  return process.env.TEST_DATABASE_URL ? ['pglite', 'postgres'] : ['pglite']
}

/**
 * A fresh, migrated database: PGlite from the dumped template, PostgreSQL cloned from the template DB
 * (a pool of 4 unless `pool` says otherwise).
 */
export async function freshDb(
  t: Test,
  engine: Engine,
  statementTimeoutMs = 60_000,
  pool: { size?: number | undefined; acquireTimeoutMs?: number | undefined } = {},
): Promise<DbClient> {
  if (engine === 'pglite') {
    const tarball = await readFile(await ensurePgliteTemplate())
    const db = await createPgliteDb({ dataDir: 'memory://', loadDataDir: new Blob([tarball]) })
    t.teardown(() => db.close())
    return db
  }
  const base = process.env.TEST_DATABASE_URL!
  const template = await ensurePostgresTemplate(base)
  const name = `${template.replace(/_tpl_.*/, '')}_t_${randomBytes(5).toString('hex')}`
  const admin = createPostgresDb({ url: base, poolSize: 1 })
  await admin.query(`create database "${name}" template "${template}"`)
  // A 10 s connect budget (the server's default is 2 s): on a loaded 2-core CI machine forking a backend
  // took longer than 2 s and 64-client tests got 503s that said nothing about what they test (the
  // fault tests that exercise the connect timeout configure their own servers).
  const db = createPostgresDb({
    url: withDatabase(base, name),
    poolSize: pool.size ?? 4,
    statementTimeoutMs,
    connectTimeoutMs: 10_000,
    ...(pool.acquireTimeoutMs ? { acquireTimeoutMs: pool.acquireTimeoutMs } : {}),
  })
  t.teardown(async () => {
    await db.close()
    await admin.query(`drop database if exists "${name}" with (force)`)
    await admin.close()
  })
  return db
}

/**
 * A PostgreSQL database of the test's own — empty, or a copy of the migrated template — dropped at teardown,
 * for tests that put something (a proxy, a fault) between the server and it. `admin` is a session on the
 * base database (to terminate or inspect the database's sessions); `through(port)` is the database's URL at a
 * local port (a proxy's).
 */
export async function ownPostgresDatabase(t: Test, label: string, opts: { empty?: boolean } = {}) {
  const base = process.env.TEST_DATABASE_URL!
  const template = await ensurePostgresTemplate(base)
  const name = `${template.replace(/_tpl_.*/, '')}_${label}_${process.pid}`
  const admin = createPostgresDb({ url: base, poolSize: 1 })
  await admin.query(opts.empty ? `create database "${name}"` : `create database "${name}" template "${template}"`)
  t.teardown(async () => {
    await admin.query(`drop database if exists "${name}" with (force)`)
    await admin.close()
  })
  const url = new URL(withDatabase(base, name))
  const through = (port: number) => Object.assign(new URL(url), { hostname: '127.0.0.1', port: String(port) })
  return { name, url, admin, through }
}

export function testConfig(overrides: Record<string, string> = {}): Config {
  // Many tests send more than a minute's per-key budget from one key, and a busy CI machine (PGlite in the
  // same process) lags the event loop: test/plugins/ turns the limit and load shedding on where tested.
  return loadConfig({
    DATA_DIR: 'memory://',
    LOG_LEVEL: 'silent',
    TOKENLEDGER_ADMIN_TOKEN: ADMIN_TOKEN,
    RATE_LIMIT_PER_MINUTE: 'off',
    UNDER_PRESSURE: 'off',
    ...overrides,
  })
}

/** The app on a fresh database (also as `app.testDb`), closed when the test ends. */
export async function build(
  t: Test,
  engine: Engine,
  overrides: Record<string, string> = {},
): Promise<FastifyInstance & { testDb: DbClient }> {
  const config = testConfig(overrides)
  // The app is handed its database, so overrides of the client's settings have to reach it here.
  const db = await freshDb(t, engine, overrides.STATEMENT_TIMEOUT_MS ? config.STATEMENT_TIMEOUT_MS : undefined, {
    size: overrides.DB_POOL_SIZE ? config.DB_POOL_SIZE : undefined,
    acquireTimeoutMs: overrides.DB_ACQUIRE_TIMEOUT_MS ? config.DB_ACQUIRE_TIMEOUT_MS : undefined,
  })
  return serve(t, config, db)
}

/** The app on `db` (also as `app.testDb`), ready, closed when the test ends. */
async function serve(t: Test, config: Config, db: DbClient): Promise<FastifyInstance & { testDb: DbClient }> {
  const server = Fastify({ ...routerErrorOptions, ...requestIdOptions, logger: false, bodyLimit: config.BODY_LIMIT, pluginTimeout: 120_000 })
  await server.register(app, { config, db })
  await server.ready()
  t.teardown(() => server.close())
  // The app is encapsulated (its decorators are not visible here), so the database is handed back too.
  return Object.assign(server as unknown as FastifyInstance, { testDb: db })
}

/**
 * Runs `fn` as a subtest with the app on a fresh PostgreSQL database whose default collation is ICU's en-US,
 * as many clusters have (this machine's is C.UTF-8, PGlite's is C): there `a` sorts before `B` and `a_x`
 * before `a-x`. The setup is checked first: the database must sort `sample` as en-US does. Skipped where
 * the server has no ICU. PostgreSQL only (TEST_DATABASE_URL).
 */
export async function onEnUsDatabase(
  t: Test,
  sample: readonly string[],
  overrides: Record<string, string>,
  fn: (t: Test, server: FastifyInstance & { testDb: DbClient }) => Promise<void>,
): Promise<void> {
  const base = process.env.TEST_DATABASE_URL!
  const admin = createPostgresDb({ url: base, poolSize: 1 })
  t.teardown(() => admin.close())
  const icu = (await admin.query(`select 1 from pg_collation where collprovider = 'i' limit 1`)).length > 0
  await t.test('on a database whose default collation is ICU en-US', { skip: icu ? false : 'this PostgreSQL has no ICU' }, async (t) => {
    const name = `${new URL(base).pathname.slice(1) || 'tokenledger'}_icu_${randomBytes(5).toString('hex')}`
    await admin.query(`create database "${name}" template template0 locale_provider icu icu_locale 'en-US'`)
    const db = createPostgresDb({ url: withDatabase(base, name), poolSize: 4 })
    t.teardown(async () => {
      await db.close()
      await admin.query(`drop database if exists "${name}" with (force)`)
    })
    const [sorted] = await db.query<{ names: string[] }>('select array_agg(n order by n) as names from unnest($1::text[]) n', [sample])
    t.same(sorted?.names, [...sample].sort(new Intl.Collator('en-US').compare), 'the database sorts text by en-US')
    await migrate(db)
    await fn(t, await serve(t, testConfig(overrides), db))
  })
}

/** Runs `fn` once per engine as a subtest named after it. */
export function eachEngine(t: Test, fn: (t: Test, engine: Engine) => Promise<void>): Promise<void> {
  return engines().reduce<Promise<void>>(
    (prev, engine) => prev.then(() => t.test(engine, (tt: Test) => fn(tt, engine)).then(() => undefined)),
    Promise.resolve(),
  )
}

export const admin = { authorization: `Bearer ${ADMIN_TOKEN}` }
export const bearer = (key: string) => ({ authorization: `Bearer ${key}` })

export function uniqueId(prefix = 't'): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`
}

/** Creates a tenant and a key with the given scopes; returns the tenant id and the secret. */
export async function tenantWithKey(
  app: FastifyInstance,
  scopes: ('ingest' | 'read')[] = ['ingest', 'read'],
  id = uniqueId('tenant'),
): Promise<{ tenantId: string; key: string; keyId: string }> {
  const t = await app.inject({ method: 'POST', url: '/v1/tenants', headers: admin, payload: { id, name: id } })
  if (t.statusCode !== 201) throw new Error(`tenant: ${t.statusCode} ${t.body}`)
  const k = await app.inject({
    method: 'POST',
    url: `/v1/tenants/${id}/api-keys`,
    headers: admin,
    payload: { name: 'test', scopes },
  })
  if (k.statusCode !== 201) throw new Error(`key: ${k.statusCode} ${k.body}`)
  const body = k.json() as { id: string; key: string }
  return { tenantId: id, key: body.key, keyId: body.id }
}

/** POST /graphql as `headers`; asserts the answer holds no errors (the body is the message) and returns its data. */
export async function graphqlData<T>(t: Test, app: FastifyInstance, headers: Record<string, string>, query: string, variables?: Record<string, unknown>): Promise<T> {
  const res = await app.inject({ method: 'POST', url: '/graphql', headers, payload: { query, variables } })
  const body = res.json() as { data?: T; errors?: unknown }
  t.equal(body.errors, undefined, res.body)
  return body.data as T
}

/** POST /v1/usage/events as `headers`; asserts every event was created. */
export async function postCreatedEvents(t: Test, app: FastifyInstance, headers: Record<string, string>, events: readonly { id: string }[]): Promise<void> {
  const res = await app.inject({ method: 'POST', url: '/v1/usage/events', headers, payload: { events } })
  t.same(res.json(), { results: events.map((e) => ({ id: e.id, status: 'created' })) }, res.body)
}

export function isProblem(res: LightMyRequestResponse): boolean {
  return String(res.headers['content-type']).startsWith('application/problem+json')
}

/**
 * Fixtures are read from ../shared/fixtures as they are. Absent, a test skips visibly — except under
 * CI=true, where a missing fixture fails the run.
 */
export function fixturePath(t: Test, relative: string): string | undefined {
  const path = join(FIXTURES, relative)
  if (existsSync(path)) return path
  if (process.env.CI === 'true') t.fail(`fixture missing: ${path}`)
  else t.test(`fixture missing: ${path}`, { skip: true }, () => {})
  return undefined
}

/** Another PostgreSQL session (a pool of one) on `db`'s database, closed at teardown: to hold locks or to watch the app's. */
export async function otherSession(t: Test, db: DbClient): Promise<DbClient> {
  const name = (await db.query<{ d: string }>('select current_database() as d'))[0]!.d
  const other = createPostgresDb({ url: withDatabase(process.env.TEST_DATABASE_URL!, name), poolSize: 1 })
  t.teardown(() => other.close())
  return other
}

/**
 * Runs `statement` in a transaction of another session of `db`'s database and keeps it open, with its
 * locks, until `release()` — how a test makes the server's statements wait or time out. PGlite runs one
 * statement at a time, so there the open transaction (on `db` itself) holds the whole database.
 */
export async function holdLocks(t: Test, db: DbClient, statement: string): Promise<{ release: () => Promise<void> }> {
  const holder = db.engine === 'postgres' ? await otherSession(t, db) : db
  let free!: () => void
  const freed = new Promise<void>((r) => (free = r))
  let held!: () => void
  const holding = new Promise<void>((r) => (held = r))
  const done = holder.transaction(async (tx) => {
    await tx.query(statement)
    held()
    await freed
  })
  await Promise.race([holding, done])
  return {
    release: async () => {
      free()
      await done
    },
  }
}

/** Sends `request` as raw bytes on a new socket and resolves with everything the server wrote back. */
export function rawHttp(port: number, request: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = []
    const s = connect(port, '127.0.0.1', () => s.end(request))
    s.on('data', (c: Buffer) => chunks.push(c))
    s.on('error', reject)
    s.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')))
  })
}

/**
 * Polls `check` until it returns something other than `undefined`/`false`, and returns that. What a test
 * does instead of sleeping and assuming the thing has happened by then: a loaded 2-core CI machine can
 * pause a process or PostgreSQL for seconds. Gives up after `timeoutMs` with an error naming what was
 * awaited and, when given, the last state seen; an error thrown by `check` ends the wait at once.
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  opts: { timeoutMs?: number; everyMs?: number; state?: () => string | Promise<string> } = {},
): Promise<T> {
  const { timeoutMs = 60_000, everyMs = 50 } = opts
  const until = Date.now() + timeoutMs
  for (;;) {
    const got = await check()
    if (got !== undefined && got !== false) return got
    if (Date.now() > until) throw new Error(`gave up after ${timeoutMs} ms waiting for ${what}${opts.state ? `: ${await opts.state()}` : ''}`)
    await new Promise((r) => setTimeout(r, everyMs))
  }
}

/**
 * Resolves once a backend of `db`'s database (other than the polling one) waits for a lock — `query`, a
 * LIKE pattern, names its statement, `waitEvent` the lock's kind (`'advisory'`, `'relation'`, …): a
 * `waitFor` on `pg_stat_activity`. Fails naming the sessions seen after `timeoutMs` (30 s), or at once
 * when `pending` (the waiter's own promise) settles first: it never waited. PostgreSQL only.
 */
export async function waitUntilBlocked(
  db: DbClient,
  opts: { query?: string; waitEvent?: string; pending?: Promise<unknown>; timeoutMs?: number } = {},
): Promise<void> {
  let settled = false
  void opts.pending?.then(() => (settled = true), () => (settled = true))
  const what = `a backend waiting for a lock (query like ${JSON.stringify(opts.query ?? '%')}, wait event ${opts.waitEvent ?? 'any'})`
  await waitFor(what, async () => {
    const waiting = await db.query(
      `select 1 from pg_stat_activity
       where datname = current_database() and pid <> pg_backend_pid() and wait_event_type = 'Lock'
         and query like $1 and wait_event like $2`,
      [opts.query ?? '%', opts.waitEvent ?? '%'],
    )
    if (waiting.length > 0) return true
    if (settled) throw new Error(`${what}: the waiter settled without waiting`)
    return false
  }, {
    timeoutMs: opts.timeoutMs ?? 30_000,
    everyMs: 20,
    state: async () => `sessions ${JSON.stringify(await db.query(
      `select state, wait_event_type, wait_event, left(query, 120) as query from pg_stat_activity
       where datname = current_database() and pid <> pg_backend_pid()`,
    ))}`,
  })
}

/**
 * `db` recording the text of every statement it runs, inside its transactions too (drizzle `sql` as its JSON):
 * for tests that count what a request reads, where a stopwatch would not prove it.
 */
export function recordStatements<D extends Db>(db: D, statements: string[] = []): { db: D; statements: string[] } {
  const wrap = <T extends Db>(d: T): T => ({
    ...d,
    query: (q, params, opts) => {
      statements.push(typeof q === 'string' ? q : JSON.stringify(q))
      return d.query(q, params, opts)
    },
    transaction: (fn) => d.transaction((tx) => fn(wrap(tx))),
  })
  return { db: wrap(db), statements }
}
