import { randomUUID } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import { SECRET_KEY_MISSING, type SecretBox } from '../crypto/secret-box.js'
import type { Db } from '../db/client.js'
import type { IngestResult } from '../ingest/ingest-buckets.js'
import { claimLease, dueConnections, getConnection, releaseDeadLeases, type ConnectionRow } from './connection-store.js'
import type { BilledCostSink } from './cost-sink.js'
import type { RetryPolicy } from './fetch-page.js'
import { liveOwner, type Liveness } from './liveness.js'
import { pullConnection, type RunOutcome, type RunRequest } from './pull-run.js'
import type { ProviderName } from './providers.js'

export interface RunnerOptions {
  db: Db
  secretBox: SecretBox | undefined
  log: FastifyBaseLogger
  policy: RetryPolicy
  leaseMs: number
  /** undefined: no timer (TOKENLEDGER_SYNC=off); runs start only on request. */
  tickMs: number | undefined
  costSink?: BilledCostSink | undefined
  afterUsage?: (tenantId: string, result: IngestResult, provider: ProviderName) => void
  onOutcome?: (provider: string, outcome: RunOutcome) => void
  ready: () => boolean
  retentionMonths?: number | undefined
  /** PostgreSQL: this instance's liveness lock, named by the leases it takes (liveness.ts). */
  liveness?: Liveness | undefined
  /** A run of a dead process ended here (releaseDeadLeases): no process counted it. */
  onDeadRun?: (provider: string) => void
}

/**
 * Starts runs — on the timer for connections that are due, or at once on request — each under the
 * connection's lease (connection-store.ts `claimLease`), so one connection is pulled by one instance
 * at a time however many servers share the database. Shutdown aborts runs between pages and waits
 * for them to record their state and release their leases.
 */
/** Scheduled runs one instance starts at once; more wait for a later tick (or another instance). */
const MAX_SCHEDULED_RUNS = 4

export function createConnectionRunner(opts: RunnerOptions) {
  const stop = new AbortController()
  const running = new Map<string, Promise<RunOutcome | undefined>>()
  const instance = randomUUID()
  let timer: NodeJS.Timeout | undefined
  let ticking = false

  function launch(row: ConnectionRow, owner: string, box: SecretBox, request: RunRequest): Promise<RunOutcome | undefined> {
    const key = `${row.tenant_id}/${row.id}`
    const run = pullConnection({ db: opts.db, secretBox: box, policy: opts.policy, leaseMs: opts.leaseMs, signal: stop.signal, costSink: opts.costSink, afterUsage: opts.afterUsage, retentionMonths: opts.retentionMonths }, row, owner, request)
      .then((outcome) => {
        opts.onOutcome?.(row.provider, outcome)
        if (outcome.status === 'failed') opts.log.warn({ connection: row.id, tenant: row.tenant_id, error: outcome.error }, 'connection sync failed')
        for (const err of outcome.causes ?? []) opts.log.warn({ err, connection: row.id, tenant: row.tenant_id }, 'connection sync: database error')
        return outcome
      })
      .catch((err: unknown) => {
        // Recording the outcome itself failed (the database went away): the lease lapses on its own.
        opts.log.error({ err, connection: row.id }, 'connection sync could not record its outcome')
        return undefined
      })
      // Only this run's entry: once its lease is released, the next run of the connection may already be listed.
      .finally(() => {
        if (running.get(key) === run) running.delete(key)
      })
    running.set(key, run)
    return run
  }

  /**
   * Without a secret box no admin key can be opened, so nothing is claimed: a claimed run that could not
   * start held the lease and showed `running` with no error, and a keyless instance among several kept
   * taking due connections from the others. The route answers 409 saying what to set (requireSecretBox).
   */
  async function claim(tenantId: string, id: string, dueOnly: boolean, request: RunRequest = {}) {
    const box = opts.secretBox
    if (!box) throw new Error(SECRET_KEY_MISSING)
    if (!dueOnly) await releaseDead()
    // Read after the await: a tag read before it could name a lock lost meanwhile.
    const live = opts.liveness?.tag()
    const owner = live === undefined ? `${instance}/${randomUUID()}` : liveOwner(live, randomUUID())
    const row = await claimLease(opts.db, tenantId, id, owner, opts.leaseMs, dueOnly)
    return row ? { row, done: launch(row, owner, box, request) } : undefined
  }

  /** PostgreSQL: frees the leases of dead processes (connection-store.ts releaseDeadLeases). */
  async function releaseDead() {
    if (opts.db.engine !== 'postgres') return
    for (const run of await releaseDeadLeases(opts.db)) if (run.ended) opts.onDeadRun?.(run.provider)
  }

  async function tick() {
    if (ticking || stop.signal.aborted || !opts.ready() || !opts.secretBox) return
    ticking = true
    try {
      const room = MAX_SCHEDULED_RUNS - running.size
      await releaseDead()
      if (room <= 0) return
      for (const due of await dueConnections(opts.db, room)) {
        if (stop.signal.aborted || running.size >= MAX_SCHEDULED_RUNS) break
        await claim(due.tenant_id, due.id, true)
      }
    } catch (err) {
      opts.log.error({ err }, 'connection scheduler tick failed')
    } finally {
      ticking = false
    }
  }

  return {
    start() {
      if (opts.tickMs === undefined || timer) return
      if (!opts.secretBox) opts.log.warn(`connections are not pulled by this instance: ${SECRET_KEY_MISSING}`)
      timer = setInterval(() => void tick(), opts.tickMs)
      timer.unref()
      void tick()
    },
    /** Starts a run now: the connection as it is at the start, 'running' when a run holds it, 'missing' when there is none. */
    async runNow(tenantId: string, id: string, request: RunRequest = {}): Promise<ConnectionRow | 'running' | 'missing'> {
      const claimed = await claim(tenantId, id, false, request)
      if (claimed) return claimed.row
      return (await getConnection(opts.db, tenantId, id)) ? 'running' : 'missing'
    },
    /** Tests and the bench: a run now, awaited to its end. */
    async runAndWait(tenantId: string, id: string): Promise<RunOutcome | 'running' | 'missing' | undefined> {
      const claimed = await claim(tenantId, id, false)
      if (claimed) return claimed.done
      return (await getConnection(opts.db, tenantId, id)) ? 'running' : 'missing'
    },
    /** Waits for this instance's runs in progress. */
    async idle(): Promise<void> {
      await Promise.allSettled([...running.values()])
    },
    async close() {
      if (timer) clearInterval(timer)
      stop.abort()
      await Promise.allSettled([...running.values()])
    },
  }
}

export type ConnectionRunner = ReturnType<typeof createConnectionRunner>
