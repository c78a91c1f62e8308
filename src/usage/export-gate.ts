import { holding } from '../db/gate.js'
import { problems } from '../errors.js'

/**
 * The streamed reads' share of the connection pool, server-wide. A REST report (a mirror's JSON page or
 * CSV export) reads its statement through a cursor whose connection stays taken while the client reads;
 * a client that reads slowly, within the cursor's idle limit, keeps it for as long as it likes. Each
 * tenant runs at most TENANT_QUERY_CONCURRENCY of them, but a few tenants together took the whole pool,
 * and every other request (ingest, GraphQL, /readyz) answered 503. At most `size` (EXPORT_CONCURRENCY,
 * below DB_POOL_SIZE) such reads hold a connection at once; the next wait in arrival order for up to
 * `maxWaitMs`, then get a 503 with Retry-After.
 *
 * Fairness between tenants: a tenant that already holds a slot never takes the last free one — it is kept
 * for a tenant that holds none. One tenant's slow readers took every slot (TENANT_QUERY_CONCURRENCY ≥
 * EXPORT_CONCURRENCY, e.g. a pool of 8: 4 of 4) and every other tenant's report was a 503 until they left;
 * a slot once given cannot be taken back from a reader, so the share is bounded when slots are taken, not
 * when others arrive. A lone tenant runs min(TENANT_QUERY_CONCURRENCY, EXPORT_CONCURRENCY − 1) at once:
 * the defaults' 4 of 5 are unchanged. With EXPORT_CONCURRENCY = 1 there is nothing to keep back.
 */
export interface ExportGateOptions {
  size: number
  maxWaitMs: number
  retryAfterSeconds: number
}

interface Waiter {
  tenant: string
  grant: () => void
}

export function createExportGate(opts: ExportGateOptions) {
  let active = 0
  const heldBy = new Map<string, number>()
  // A Set iterates in insertion order: the oldest waiter first.
  const waiting = new Set<Waiter>()

  const mayTake = (tenant: string) => {
    const free = opts.size - active
    return free > 1 || (free === 1 && (opts.size === 1 || !heldBy.get(tenant)))
  }
  const take = (tenant: string) => {
    active++
    heldBy.set(tenant, (heldBy.get(tenant) ?? 0) + 1)
  }
  const release = (tenant: string) => {
    active--
    const n = (heldBy.get(tenant) ?? 1) - 1
    if (n) heldBy.set(tenant, n)
    else heldBy.delete(tenant)
    // The oldest waiter that may take a slot now gets it: one of a tenant holding none may pass an older
    // one of a tenant that holds some, which would only wait for the slot kept back anyway.
    for (const w of waiting) {
      if (!mayTake(w.tenant)) continue
      waiting.delete(w)
      take(w.tenant)
      w.grant()
      if (opts.size - active === 0) break
    }
  }
  const refusal = (tenant: string) =>
    problems.unavailable(
      opts.retryAfterSeconds,
      active < opts.size
        ? `this tenant's ${heldBy.get(tenant) ?? 0} streamed reports already hold database connections while their clients read, and the last of ${opts.size} is kept for other tenants; this one waited ${opts.maxWaitMs} ms — retry shortly`
        : `${opts.size} streamed reports already hold database connections while their clients read; this one waited ${opts.maxWaitMs} ms — retry shortly`,
    )

  /** Waits for one of the slots `tenant` may take; resolves to the function that gives it back (once). */
  async function acquire(tenant: string): Promise<() => void> {
    if (mayTake(tenant)) take(tenant)
    else
      await new Promise<void>((resolve, reject) => {
        const waiter: Waiter = {
          tenant,
          grant: () => {
            clearTimeout(timer)
            resolve()
          },
        }
        const timer = setTimeout(() => {
          waiting.delete(waiter)
          reject(refusal(tenant))
        }, opts.maxWaitMs)
        waiting.add(waiter)
      })
    let released = false
    return () => {
      if (released) return
      released = true
      release(tenant)
    }
  }

  /** Runs `fn` holding one of the slots, given back however `fn` ends. */
  const run = <T>(tenant: string, fn: () => Promise<T>): Promise<T> => holding(acquire(tenant), fn)

  return {
    run,
    /** Slots held now, by every tenant. */
    held: () => active,
  }
}

export type ExportGate = ReturnType<typeof createExportGate>
