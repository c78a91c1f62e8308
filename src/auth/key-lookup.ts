import type { Db } from '../db/client.js'
import { findActiveKeysByHashes, type ActiveKey } from '../db/queries/tenants.js'

interface Waiter {
  resolve: (key: ActiveKey | undefined) => void
  reject: (err: unknown) => void
}

/**
 * Looks tenant keys up in the database for every request — nothing is cached, so a revoked key is
 * refused by the very next request — but coalesces concurrent requests into one query: the requests
 * that ask during an event-loop turn, or while the previous lookup runs, are looked up together by
 * the next one. A lookup always starts after the requests it answers arrived (a request never joins
 * a lookup already under way), so each sees every revocation committed before it was received,
 * exactly as with one query per request.
 */
export function createKeyLookup(db: Db, opts: { maxInFlight?: number } = {}) {
  const maxInFlight = opts.maxInFlight ?? 1
  let waiting = new Map<string, Waiter[]>()
  let inFlight = 0
  let scheduled = false

  function start(): void {
    scheduled = false
    if (waiting.size === 0 || inFlight >= maxInFlight) return
    const batch = waiting
    waiting = new Map()
    inFlight++
    void findActiveKeysByHashes(db, [...batch.keys()])
      .then(
        (rows) => {
          const byHash = new Map(rows.map((r) => [r.keyHash, r]))
          for (const [hash, waiters] of batch) for (const w of waiters) w.resolve(byHash.get(hash))
        },
        (err: unknown) => {
          for (const waiters of batch.values()) for (const w of waiters) w.reject(err)
        },
      )
      .finally(() => {
        inFlight--
        start()
      })
  }

  return {
    /** The active key with this SHA-256 hash, or undefined. */
    find(keyHash: string): Promise<ActiveKey | undefined> {
      const done = new Promise<ActiveKey | undefined>((resolve, reject) => {
        const list = waiting.get(keyHash)
        if (list) list.push({ resolve, reject })
        else waiting.set(keyHash, [{ resolve, reject }])
      })
      if (!scheduled && inFlight < maxInFlight) {
        scheduled = true
        setImmediate(start)
      }
      return done
    },
  }
}
