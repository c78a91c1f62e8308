/**
 * A fair counting semaphore: at most `size` holders at once; the rest wait in arrival order, each for at
 * most `maxWaitMs`, and then fail with `onTimeout()`. The one definition behind every bound on who may
 * hold database connections: the pool's admission (src/db/client.ts), each tenant's share of expensive
 * queries (src/usage/tenant-gate.ts). The streamed reads' share of the pool (src/usage/export-gate.ts)
 * has its own: it keeps a slot back for tenants that hold none.
 */
export interface GateOptions {
  size: number
  maxWaitMs: number
  onTimeout: () => Error
}

export function createGate(opts: GateOptions) {
  let active = 0
  // A Set iterates in insertion order: the oldest waiter first.
  const waiting = new Set<() => void>()
  const release = () => {
    const next = waiting.values().next()
    if (next.done) active--
    else {
      // The slot passes straight to the oldest waiter, so a newcomer cannot overtake it.
      waiting.delete(next.value)
      next.value()
    }
  }

  /** Waits for a slot; resolves to the function that gives it back (a second call does nothing). */
  async function acquire(): Promise<() => void> {
    if (active < opts.size) active++
    else
      await new Promise<void>((resolve, reject) => {
        const grant = () => {
          clearTimeout(timer)
          resolve()
        }
        const timer = setTimeout(() => {
          waiting.delete(grant)
          reject(opts.onTimeout())
        }, opts.maxWaitMs)
        waiting.add(grant)
      })
    let released = false
    return () => {
      if (released) return
      released = true
      release()
    }
  }

  return {
    acquire,
    /** Runs `fn` holding a slot, given back however `fn` ends. */
    run: <T>(fn: () => Promise<T>): Promise<T> => holding(acquire(), fn),
    /** Slots held now. */
    held: () => active,
    /** Nobody holds or waits: the gate can be dropped. */
    idle: () => active === 0 && waiting.size === 0,
  }
}

export type Gate = ReturnType<typeof createGate>

/** Runs `fn` once `slot` is granted, and gives the slot back however `fn` ends: every gate's `run`. */
export async function holding<T>(slot: Promise<() => void>, fn: () => Promise<T>): Promise<T> {
  const done = await slot
  try {
    return await fn()
  } finally {
    done()
  }
}
