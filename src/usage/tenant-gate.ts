import { createGate, holding, type Gate } from '../db/gate.js'
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

export function createTenantGate(opts: TenantGateOptions) {
  const gates = new Map<string, Gate>()
  const tooMany = () =>
    problems.tooManyRequests(
      1,
      `this tenant already runs ${opts.perTenant} expensive queries; the next waited ${opts.maxWaitMs} ms — retry shortly or send fewer at once`,
    )
  const gateOf = (tenant: string) => {
    let gate = gates.get(tenant)
    if (!gate) gates.set(tenant, (gate = createGate({ size: opts.perTenant, maxWaitMs: opts.maxWaitMs, onTimeout: tooMany })))
    return gate
  }
  // A tenant's gate is dropped once nobody holds or waits for it, so the map holds active tenants only.
  const forget = (tenant: string, gate: Gate) => {
    if (gate.idle() && gates.get(tenant) === gate) gates.delete(tenant)
  }

  /** Waits for a slot; resolves to the function that gives it back (a second call does nothing). */
  async function acquire(tenant: string): Promise<() => void> {
    const gate = gateOf(tenant)
    let done: () => void
    try {
      done = await gate.acquire()
    } catch (err) {
      forget(tenant, gate)
      throw err
    }
    return () => {
      done()
      forget(tenant, gate)
    }
  }

  /** Runs `fn` holding one of the tenant's slots. */
  const run = <T>(tenant: string, fn: () => Promise<T>): Promise<T> => holding(acquire(tenant), fn)

  return { acquire, run, running: (tenant: string) => gates.get(tenant)?.held() ?? 0 }
}

export type TenantGate = ReturnType<typeof createTenantGate>
