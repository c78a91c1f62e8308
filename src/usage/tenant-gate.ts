import { problems } from '../errors.js'

/**
 * A fair semaphore per tenant for expensive queries (usage, events, the REST reports): each tenant may
 * run `perTenant` at once; the next ones wait in arrival order for up to `maxWaitMs`, then get a 429
 * problem. One tenant's burst (30 aliases, a loop of reports) therefore holds at most its share of the
 * connection pool, and another tenant's query starts at once.
 */
export interface TenantGateOptions {
  perTenant: number
  maxWaitMs: number
}

interface Waiter {
  grant: () => void
  timer: NodeJS.Timeout
}

export function createTenantGate(opts: TenantGateOptions) {
  const running = new Map<string, number>()
  const queues = new Map<string, Waiter[]>()

  const release = (tenant: string) => {
    const next = queues.get(tenant)?.shift()
    if (next) {
      // The slot passes straight to the oldest waiter, so a newcomer cannot overtake it.
      clearTimeout(next.timer)
      next.grant()
      return
    }
    queues.delete(tenant)
    const n = (running.get(tenant) ?? 1) - 1
    if (n > 0) running.set(tenant, n)
    else running.delete(tenant)
  }

  /** Waits for a slot; resolves to the function that gives it back (call it exactly once). */
  async function acquire(tenant: string): Promise<() => void> {
    let released = false
    const done = () => {
      if (released) return
      released = true
      release(tenant)
    }
    const n = running.get(tenant) ?? 0
    if (n < opts.perTenant) {
      running.set(tenant, n + 1)
      return done
    }
    await new Promise<void>((resolve, reject) => {
      const queue = queues.get(tenant) ?? []
      queues.set(tenant, queue)
      const waiter: Waiter = {
        grant: resolve,
        timer: setTimeout(() => {
          queue.splice(queue.indexOf(waiter), 1)
          reject(
            problems.tooManyRequests(
              1,
              `this tenant already runs ${opts.perTenant} expensive queries; the next waited ${opts.maxWaitMs} ms — retry shortly or send fewer at once`,
            ),
          )
        }, opts.maxWaitMs),
      }
      queue.push(waiter)
    })
    return done
  }

  /** Runs `fn` holding one of the tenant's slots. */
  async function run<T>(tenant: string, fn: () => Promise<T>): Promise<T> {
    const done = await acquire(tenant)
    try {
      return await fn()
    } finally {
      done()
    }
  }

  return { acquire, run, running: (tenant: string) => running.get(tenant) ?? 0 }
}

export type TenantGate = ReturnType<typeof createTenantGate>
