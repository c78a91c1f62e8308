import type { Db } from '../../db/client.js'
import { AcquireTimeoutError, isUnavailable } from '../../db/errors.js'
import type { EventResult } from './event-schema.js'
import type { RetentionGuard } from '../retention.js'
import { finishEvents, prepareEvents, storeCandidates, type PreparedEvents } from './ingest-events.js'

export interface EventBatcherOptions {
  /** Requests with at most this many events to store are grouped; larger ones are stored on their own. */
  maxRequestEvents?: number
  /** A group takes waiting requests until it holds this many events (always at least one request). */
  maxGroupEvents?: number
  /** Groups of one tenant in flight at once. */
  maxInFlight?: number
  /**
   * Longest a request waits in its tenant's queue for a group to take it (DB_ACQUIRE_TIMEOUT_MS, as for
   * a pooled connection); past it the request is taken out, unwritten, and answered 503 + Retry-After.
   */
  maxWaitMs?: number
  /** Called once per group statement that failed and was retried request by request. */
  onFallback?: (err: unknown, requests: number) => void
  /** Called after each group is settled (observability, tests). */
  onFlush?: (info: { requests: number; events: number; fallback: boolean }) => void
}

interface Waiting {
  prepared: PreparedEvents
  resolve: (results: EventResult[]) => void
  reject: (err: unknown) => void
  /** Fires when the request has waited maxWaitMs without being taken into a group. */
  timer?: NodeJS.Timeout | undefined
}

interface TenantQueue {
  waiting: Waiting[]
  inFlight: number
  /** A pump is scheduled for the next turn. */
  scheduled: boolean
}

/**
 * Group commit for event ingestion. Concurrent small requests of one tenant are stored together by
 * ONE statement (the same set-based claim-and-insert a single request uses), and each request is
 * answered only after that statement committed, with its own per-item results — as if the requests of
 * the group had been stored one after the other, in arrival order.
 *
 * Per tenant, one group is in flight at a time (maxInFlight); requests arriving meanwhile wait and
 * form the next group as soon as it finishes. There is no timer: an idle server stores a lone request
 * after one event-loop turn, and under load groups grow by themselves. Why it pays: every statement of
 * a tenant upserts the same hourly rollup rows, so concurrent per-request statements queued on those
 * row locks, each holding them through its own WAL flush; one statement per group needs one lock
 * round and one WAL flush. (Two groups in flight measured no better: they serialise on the same rows.)
 *
 * When the group statement fails it wrote nothing (it is atomic), so:
 * - a database that is unreachable, or a statement timeout, fails every request of the group with
 *   that error (503/504 — retrying each would only hit the same wall);
 * - any other error may come from one request's data (e.g. a rollup sum out of the int8 range), so
 *   the requests are stored again one by one: each gets exactly the outcome it would have had alone,
 *   and only a guilty request fails.
 * A request waits in the queue at most maxWaitMs: a group that does not return (a database that
 * stopped answering mid-statement, a lock held elsewhere) must not hold every later request of the
 * tenant, and their bodies, for ever.
 * A request is never answered before the statement that stored its events returned, i.e. committed.
 * If a connection drops after COMMIT was sent, the outcome is unknown and the group gets 503; a
 * client's retry then finds its ids stored with the same content (`duplicate`): counted once.
 */
export function createEventBatcher(db: Db, opts: EventBatcherOptions = {}) {
  const maxRequestEvents = opts.maxRequestEvents ?? 100
  const maxGroupEvents = opts.maxGroupEvents ?? 5_000
  const maxInFlight = opts.maxInFlight ?? 1
  const maxWaitMs = opts.maxWaitMs ?? 5_000
  const queues = new Map<string, TenantQueue>()
  // Observers must never leave a request unanswered.
  const notify = <A extends unknown[]>(fn: ((...args: A) => void) | undefined, ...args: A) => {
    try {
      fn?.(...args)
    } catch {
      // ignored: observability only
    }
  }

  const settle = (w: Waiting, outcomes: Parameters<typeof finishEvents>[1]) => {
    try {
      w.resolve(finishEvents(w.prepared, outcomes))
    } catch (err) {
      w.reject(err)
    }
  }

  /**
   * Stores one group; resolves (never rejects) to a function that answers its requests, so that the
   * caller can send the next group to the database before spending time on these replies.
   */
  async function storeGroup(tenantId: string, group: Waiting[]): Promise<() => void> {
    const events = group.reduce((n, w) => n + w.prepared.candidates.length, 0)
    try {
      const outcomes = await storeCandidates(db, tenantId, group.map((w) => w.prepared.candidates))
      return () => {
        group.forEach((w, i) => settle(w, outcomes[i]!))
        notify(opts.onFlush, { requests: group.length, events, fallback: false })
      }
    } catch (err) {
      if (group.length === 1 || isUnavailable(err)) {
        return () => {
          for (const w of group) w.reject(err)
          notify(opts.onFlush, { requests: group.length, events, fallback: false })
        }
      }
      notify(opts.onFallback, err, group.length)
    }
    for (const w of group) {
      try {
        const [outcomes] = await storeCandidates(db, tenantId, [w.prepared.candidates])
        settle(w, outcomes!)
      } catch (err) {
        w.reject(err)
      }
    }
    return () => notify(opts.onFlush, { requests: group.length, events, fallback: true })
  }

  /** The next group: waiting requests in arrival order, up to maxGroupEvents (at least one request). */
  function takeGroup(queue: TenantQueue): Waiting[] {
    let events = 0
    let take = 0
    while (take < queue.waiting.length) {
      const n = queue.waiting[take]!.prepared.candidates.length
      if (take > 0 && events + n > maxGroupEvents) break
      events += n
      take++
    }
    const group = queue.waiting.splice(0, take)
    for (const w of group) clearTimeout(w.timer)
    return group
  }

  /** Sends waiting requests to the database, up to maxInFlight groups at a time. */
  function pump(tenantId: string, queue: TenantQueue): void {
    while (queue.inFlight < maxInFlight && queue.waiting.length > 0) {
      queue.inFlight++
      void storeGroup(tenantId, takeGroup(queue)).then((answer) => {
        queue.inFlight--
        // The requests that arrived meanwhile go to the database before this group's replies are
        // serialised and written, so the two overlap.
        pump(tenantId, queue)
        answer()
        if (queue.inFlight === 0 && !queue.scheduled) queues.delete(tenantId)
      })
    }
  }

  return {
    /** Validates and stores one request's events; resolves once they are committed. */
    async ingest(tenantId: string, items: readonly unknown[], retention?: RetentionGuard): Promise<EventResult[]> {
      const prepared = await prepareEvents(items, retention)
      const n = prepared.candidates.length
      if (n === 0) return finishEvents(prepared, [])
      if (n > maxRequestEvents) {
        const [outcomes] = await storeCandidates(db, tenantId, [prepared.candidates])
        return finishEvents(prepared, outcomes!)
      }
      // A tenant has a queue while it has requests waiting or in flight.
      let queue = queues.get(tenantId)
      if (!queue) queues.set(tenantId, (queue = { waiting: [], inFlight: 0, scheduled: false }))
      const q = queue
      const done = new Promise<EventResult[]>((resolve, reject) => {
        const w: Waiting = { prepared, resolve, reject }
        w.timer = setTimeout(() => {
          const at = q.waiting.indexOf(w)
          if (at < 0) return
          q.waiting.splice(at, 1)
          reject(new AcquireTimeoutError(maxWaitMs))
        }, maxWaitMs)
        w.timer.unref()
        q.waiting.push(w)
      })
      if (q.inFlight < maxInFlight && !q.scheduled) {
        // Wait one turn so that the requests whose bodies are parsed in this turn join the group.
        q.scheduled = true
        setImmediate(() => {
          q.scheduled = false
          pump(tenantId, q)
        })
      }
      return done
    },
  }
}

export type EventBatcher = ReturnType<typeof createEventBatcher>
