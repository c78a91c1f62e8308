/**
 * The webhook attempts one instance makes at once, bounded in all and per tenant, taken from the tenants
 * in turn. Unbounded, one ingest that crossed many thresholds of many budgets started every delivery as its
 * evaluation recorded them: 1000 budgets × 50 thresholds to a receiver that never answers held ~500 sockets,
 * and other tenants' ingests on that instance slowed from 0.15 s to 1–5 s (docs/reliability.md, round 31).
 *
 * An attempt is claimed (its lease taken) only when it starts, so a queued alert holds nothing in the
 * database: another instance's timer may deliver it meanwhile, and the claim then finds nothing to do. What
 * does not fit the queue stays due in the database for the next timer pass (`dueDeliveries`).
 */
export interface DeliveryLimits {
  /** Attempts running at once on this instance. */
  total: number
  /** Attempts of one tenant running at once (a receiver that hangs holds at most this many). */
  perTenant: number
  /** Alerts waiting for a slot; more are left to the timer. */
  maxQueued: number
}

export const DEFAULT_DELIVERY_LIMITS: DeliveryLimits = { total: 16, perTenant: 4, maxQueued: 10_000 }

export function createDeliveryQueue(limits: DeliveryLimits, start: (tenantId: string, alertId: string) => void) {
  /** Per tenant, its alerts in the order they came; the map's order is the turn (a served tenant moves last). */
  const waiting = new Map<string, string[]>()
  /** Alerts queued or running: one attempt at a time per alert from this instance. */
  const known = new Set<string>()
  const runningOf = new Map<string, number>()
  let running = 0
  let queued = 0

  function pump(): void {
    while (running < limits.total) {
      let next: [string, string] | undefined
      for (const [tenantId, alerts] of waiting) {
        if ((runningOf.get(tenantId) ?? 0) >= limits.perTenant) continue
        const alertId = alerts.shift()!
        waiting.delete(tenantId)
        if (alerts.length > 0) waiting.set(tenantId, alerts)
        next = [tenantId, alertId]
        break
      }
      if (!next) return
      const [tenantId, alertId] = next
      queued--
      running++
      runningOf.set(tenantId, (runningOf.get(tenantId) ?? 0) + 1)
      start(tenantId, alertId)
    }
  }

  return {
    /** Queues an attempt at the alert; false when it is already queued or running, or the queue is full. */
    offer(tenantId: string, alertId: string): boolean {
      if (known.has(alertId) || queued >= limits.maxQueued) return false
      known.add(alertId)
      queued++
      const alerts = waiting.get(tenantId)
      if (alerts) alerts.push(alertId)
      else waiting.set(tenantId, [alertId])
      pump()
      return true
    },
    /** An attempt `start` was given has ended (whatever its outcome). */
    done(tenantId: string, alertId: string): void {
      known.delete(alertId)
      running--
      const left = (runningOf.get(tenantId) ?? 1) - 1
      if (left > 0) runningOf.set(tenantId, left)
      else runningOf.delete(tenantId)
      pump()
    },
    /** Forgets what waits (closing: it stays due in the database for another instance). */
    clear(): void {
      for (const alerts of waiting.values()) for (const alertId of alerts) known.delete(alertId)
      waiting.clear()
      queued = 0
    },
    get queued(): number {
      return queued
    },
  }
}
