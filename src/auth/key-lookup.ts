import type { Db } from '../db/client.js'
import { findActiveKeysByHashes, type ApiKeyRow } from '../db/queries/tenants.js'

export type ActiveKey = ApiKeyRow & { key_hash: string }

interface Waiter {
  resolve: (key: ActiveKey | undefined) => void
  reject: (err: unknown) => void
}

/**
 * Looks tenant keys up in the database for every request — nothing is cached, so a revoked key is
 * refused by the very next request — but with one query per event-loop turn rather than per request:
 * the requests that ask during a turn are looked up together right after it (under load, a whole
 * burst of requests parsed in one turn costs one round trip). The query always starts after the
 * requests it answers arrived, so each sees every revocation committed before it was received,
 * exactly as with one query per request.
 */
export function createKeyLookup(db: Db) {
  let waiting: Map<string, Waiter[]> | undefined

  async function lookup(batch: Map<string, Waiter[]>): Promise<void> {
    try {
      const rows = await findActiveKeysByHashes(db, [...batch.keys()])
      const byHash = new Map(rows.map((r) => [r.key_hash, r]))
      for (const [hash, waiters] of batch) for (const w of waiters) w.resolve(byHash.get(hash))
    } catch (err) {
      for (const waiters of batch.values()) for (const w of waiters) w.reject(err)
    }
  }

  return {
    /** The active key with this SHA-256 hash, or undefined. */
    find(keyHash: string): Promise<ActiveKey | undefined> {
      if (!waiting) {
        const batch = (waiting = new Map())
        setImmediate(() => {
          waiting = undefined
          void lookup(batch)
        })
      }
      const batch = waiting
      return new Promise((resolve, reject) => {
        const list = batch.get(keyHash)
        if (list) list.push({ resolve, reject })
        else batch.set(keyHash, [{ resolve, reject }])
      })
    },
  }
}
