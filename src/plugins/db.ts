import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import fp from 'fastify-plugin'
import type { FastifyBaseLogger } from 'fastify'
import { responseTimeoutMs, type Config } from '../config.js'
import { createPgliteDb, createPostgresDb, type DbClient } from '../db/client.js'
import { migrate } from '../db/migrate.js'
import { problems } from '../errors.js'

export interface DbPluginOptions {
  config: Config
  /** An already-open client (tests); the app does not close it. */
  db?: DbClient
  /**
   * Runs once after migrations succeed (e.g. bootstrap the admin token). `soleProcess`: this process opened
   * the database itself as embedded PGlite, under DATA_DIR's lock (or in memory), so no other process uses it.
   */
  onMigrated?: (db: DbClient, info: { soleProcess: boolean }) => Promise<void>
}

/**
 * Tracks whether the database is reachable and migrated. The server listens before the database
 * answers; until it is migrated, /readyz and /v1/* answer 503 with Retry-After, and a background
 * loop keeps trying.
 */
function createDbState(client: DbClient, retryMs: number, onMigrated: () => Promise<void>, log: (err: unknown) => void) {
  let migrated = false
  let inFlight: Promise<boolean> | undefined
  let timer: NodeJS.Timeout | undefined
  let closed = false

  const attempt = (): Promise<boolean> => {
    if (migrated) return Promise.resolve(true)
    inFlight ??= migrate(client)
      .then(onMigrated)
      .then(() => (migrated = true))
      .catch((err: unknown) => {
        log(err)
        return false
      })
      .finally(() => (inFlight = undefined))
    return inFlight
  }
  const loop = async () => {
    if (closed || (await attempt())) return
    if (!closed) timer = setTimeout(loop, retryMs).unref()
  }
  return {
    start: loop,
    stop() {
      closed = true
      if (timer) clearTimeout(timer)
      return inFlight
    },
    isMigrated: () => migrated,
    /** Throws 503 unless migrated; tries once more right away so recovery needs no waiting. */
    async ensure() {
      if (migrated || (await attempt())) return
      throw problems.unavailable(Math.ceil(retryMs / 1000))
    },
    /**
     * Readiness: migrated and answering `select 1` within READY_TIMEOUT_MS. A probe must answer
     * promptly whatever the database does (a hung network, a saturated pool); the query it gives up
     * on finishes or fails on its own.
     */
    async ready() {
      const check = (migrated ? Promise.resolve(true) : attempt()).then((ok) => ok && client.query('select 1').then(() => true))
      let timer: NodeJS.Timeout | undefined
      const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), READY_TIMEOUT_MS)))
      const ok = await Promise.race([check.catch(() => false), late])
      clearTimeout(timer)
      if (!ok) throw problems.unavailable(Math.ceil(retryMs / 1000))
    },
    retryAfterSeconds: Math.ceil(retryMs / 1000),
  }
}

const READY_TIMEOUT_MS = 1_000

/** PGlite is single-process: an exclusive lock file in DATA_DIR makes a second process fail clearly. */
export function lockDataDir(dir: string): () => void {
  mkdirSync(dir, { recursive: true })
  const path = join(dir, 'tokenledger.lock')
  const take = () => {
    const fd = openSync(path, 'wx')
    writeSync(fd, String(process.pid))
    closeSync(fd)
  }
  try {
    take()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    const pid = Number(readFileSync(path, 'utf8'))
    if (pid && pid !== process.pid && isAlive(pid)) {
      throw new Error(
        `DATA_DIR ${dir} is in use by process ${pid}; embedded PGlite allows one process per data directory (use DATABASE_URL for several instances)`,
      )
    }
    rmSync(path, { force: true })
    take()
  }
  return () => rmSync(path, { force: true })
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export async function openDb(config: Config, log?: Pick<FastifyBaseLogger, 'warn'>): Promise<{ client: DbClient; release: () => void }> {
  if (config.DATABASE_URL) {
    const client = createPostgresDb({
      url: config.DATABASE_URL,
      poolSize: config.DB_POOL_SIZE,
      statementTimeoutMs: config.STATEMENT_TIMEOUT_MS,
      workMem: config.DB_WORK_MEM,
      connectTimeoutMs: config.DB_CONNECT_TIMEOUT_MS,
      acquireTimeoutMs: config.DB_ACQUIRE_TIMEOUT_MS,
      responseTimeoutMs: responseTimeoutMs(config),
      // The statements on it answer 503 like any lost connection; this line says why it was lost.
      onNoResponse: () => log?.warn(`closed a PostgreSQL connection that sent nothing back within ${responseTimeoutMs(config)} ms of a statement (DB_RESPONSE_TIMEOUT_MS)`),
    })
    return { client, release: () => {} }
  }
  const memory = config.DATA_DIR.startsWith('memory://')
  const release = memory ? () => {} : lockDataDir(config.DATA_DIR)
  try {
    return { client: await createPgliteDb({ dataDir: config.DATA_DIR }), release }
  } catch (err) {
    release()
    throw err
  }
}

export type DbState = ReturnType<typeof createDbState>

declare module 'fastify' {
  interface FastifyInstance {
    db: DbClient
    dbState: DbState
  }
}

export default fp(
  async (app, opts: DbPluginOptions) => {
    const owned = opts.db ? undefined : await openDb(opts.config, app.log)
    const client = opts.db ?? owned!.client
    const state = createDbState(
      client,
      opts.config.DB_RETRY_MS,
      () => opts.onMigrated?.(client, { soleProcess: owned?.client.engine === 'pglite' }) ?? Promise.resolve(),
      (err) => app.log.warn({ err }, 'database not ready; retrying'),
    )
    app.decorate('db', client)
    app.decorate('dbState', state)
    app.addHook('onReady', async () => {
      await state.start()
    })
    app.addHook('onClose', async () => {
      await state.stop()
      if (owned) {
        await owned.client.close()
        owned.release()
      }
    })
  },
  { name: 'db' },
)
