import { randomInt } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyBaseLogger } from 'fastify'
import type { DbClient } from '../db/client.js'

/**
 * An instance's proof of life on PostgreSQL: one session advisory lock, held on a dedicated connection
 * for as long as the process lives. PostgreSQL releases a session's locks when the session ends, and a
 * SIGKILLed process's sockets are closed by its kernel, so the lock disappears with the process. A lease
 * taken while the lock is held names it (`liveOwner`), and any instance can then tell a dead holder's
 * lease from a live one's (connection-store.ts `releaseDeadLeases`) instead of waiting SYNC_LEASE_MS.
 *
 * The lock is checked every `checkMs` on its own connection and taken again if that session was lost (a
 * network blip, a database restart): until then `tag()` is undefined and new leases are plain ones, which
 * only lapse. A run whose lock was lost may have its lease released by another instance meanwhile; its
 * next progress record then finds the lease gone and the run stops (pages are stored by natural key, so
 * a page stored twice is not counted twice).
 */

/** The first key of the liveness locks ("tliv" in ASCII); the second is the instance's. */
export const LIVENESS_LOCK_CLASS = 0x746c_6976

/** A lease owner naming the liveness lock of its instance: `live:<key>/<run id>`. */
export const liveOwner = (key: number, run: string) => `live:${String(key)}/${run}`

export interface Liveness {
  /** The lock's key while this instance holds it (for `liveOwner`), else undefined. */
  tag(): number | undefined
  close(): Promise<void>
}

export function holdLiveness(db: DbClient, log: FastifyBaseLogger, checkMs: number): Liveness {
  // Positive int4: pg_locks shows the key as an unsigned oid, which then reads the same.
  const key = randomInt(1, 2 ** 31 - 1)
  let held = false
  const stop = new AbortController()
  // Ends early when closed; does not keep the process alive.
  const pause = () => sleep(checkMs, undefined, { signal: stop.signal, ref: false }).catch(() => {})
  // A check that never answers (a hung network) must not hold up close(): the body returns when closed,
  // and `dedicated` then ends its connection, failing the check (observed, so never an unhandled rejection).
  const closed = new Promise<undefined>((resolve) => stop.signal.addEventListener('abort', () => resolve(undefined), { once: true }))
  const holding = db
    .dedicated(async (conn) => {
      while (!stop.signal.aborted) {
        const check = conn.query<{ held: boolean }>(
          // Taken once per session (re-entrant calls would stack): only when this session does not hold it.
          `select case when exists (select 1 from pg_locks where pid = pg_backend_pid() and locktype = 'advisory'
              and classid = $1::int4::oid and objid = $2::int4::oid and objsubid = 2 and granted)
            then true else pg_try_advisory_lock($1::int4, $2::int4) end as held`,
          [LIVENESS_LOCK_CLASS, key],
        )
        try {
          const rows = await Promise.race([check, closed])
          if (!rows) break
          if (held && !rows[0]?.held) log.warn('connections: this instance lost its liveness lock; its new runs take plain leases until it is back')
          held = rows[0]?.held === true
        } catch (err) {
          if (held) log.warn({ err }, 'connections: the liveness lock could not be checked; new runs take plain leases until it is')
          held = false
        }
        await pause()
      }
      held = false
    })
    .catch((err: unknown) => {
      held = false
      log.error({ err }, 'connections: the liveness lock is not held (runs take plain leases, which only lapse)')
    })
  return {
    tag: () => (held ? key : undefined),
    async close() {
      stop.abort()
      await holding
    },
  }
}
