import type { FastifyBaseLogger } from 'fastify'
import type { Db } from '../db/client.js'
import { isUnavailable } from '../db/errors.js'
import { claimDelivery, databaseNow, dropDelivery, dueDeliveries, listAllBudgets, listBudgets, recordAttempt, type AlertRow } from '../db/queries/budgets.js'
import type { SecretBox } from '../crypto/secret-box.js'
import { selectSources } from '../usage/dimensions.js'
import { toBudget, type Budget } from './budget-model.js'
import { createDeliveryQueue, DEFAULT_DELIVERY_LIMITS, type DeliveryLimits } from './delivery-queue.js'
import { evaluateBudget } from './evaluate.js'
import type { Span } from './periods.js'
import { alertPayload, postAlert } from './webhook.js'

export interface BudgetEngineOptions {
  db: Db
  secretBox: SecretBox | undefined
  log: FastifyBaseLogger
  maxGroups: number
  /** 'off': no timer (ingest still evaluates). */
  intervalMs: number | 'off'
  webhookTimeoutMs: number
  maxAttempts: number
  retryBaseMs: number
  /** Deliver to private and reserved addresses too (OUTBOUND_PRIVATE_ADDRESSES=allow). */
  allowPrivateAddresses: boolean
  /**
   * This instance's own clock (tests skew it to play an instance whose clock is off). Nothing is decided
   * by it: evaluations, crossings and attempts are at the database's clock (databaseNow), and so are
   * delivery leases and due times (claimDelivery) — the one clock every instance shares. A clock more than
   * CLOCK_SKEW_WARN_MS off the database's is logged once.
   */
  now?: () => Date
  /** The timer skips its pass while this is false (database not reachable or not migrated yet). */
  ready?: () => boolean
  /** Webhook attempts at once, in all and per tenant (DEFAULT_DELIVERY_LIMITS when not given). */
  deliveryLimits?: DeliveryLimits
  /** Told the outcome of every delivery attempt (metrics): delivered, retried (another attempt follows) or failed (gave up). */
  onDelivery?: (outcome: 'delivered' | 'retried' | 'failed') => void
}

/** What an ingest wrote: provider-reported buckets or an application's events. */
export type IngestKind = 'buckets' | 'events'

interface Written {
  span: Span
  kinds: Set<IngestKind>
}

/** Whether a budget's source selection (as `usage` makes it for its filter) counts rows of these kinds. */
function countsAny(budget: Budget, kinds: Set<IngestKind>): boolean {
  const sources = selectSources(budget.filter, [], [])
  return sources.some((s) => kinds.has(s === 'events' ? 'events' : 'buckets'))
}

const EVALUATION_GAP_MS = 250
/** An evaluation after ingest that the database failed is run again after this, doubling per failure up to EVALUATION_RETRY_MAX_MS. */
const EVALUATION_RETRY_MS = 1_000
const EVALUATION_RETRY_MAX_MS = 5 * 60_000

const MAX_RETRY_DELAY_MS = 10 * 60_000
const CLOCK_SKEW_WARN_MS = 5_000
const DUE_BATCH = 100

/**
 * Evaluates budgets and delivers their alerts, off the request path:
 * - after ingest, per tenant, with the spans of concurrent ingests merged so that a burst of writes
 *   costs one evaluation running at a time (the unique key, not this coalescing, is what makes an
 *   alert happen once — several instances evaluate independently);
 * - on a timer, every budget's current period, and any delivery whose retry is due.
 * Nothing here can fail or delay an ingest: errors are logged, work runs after the reply.
 */
export function createBudgetEngine(opts: BudgetEngineOptions) {
  const { db, log } = opts
  const now = opts.now ?? (() => new Date())
  const pending = new Map<string, Written>()
  const draining = new Set<string>()
  const tasks = new Set<Promise<unknown>>()
  const retries = new Set<NodeJS.Timeout>()
  /** Tenants whose evaluations after ingest failed in a row (the database), for the retry's backoff. */
  const failedInARow = new Map<string, number>()
  let interval: NodeJS.Timeout | undefined
  let ticking = false
  let closed = false
  let skewLogged = false

  const track = (work: () => Promise<unknown>, what: string) => {
    const p = work().catch((err: unknown) => log.warn({ err }, `budgets: ${what} failed`))
    tasks.add(p)
    void p.finally(() => tasks.delete(p))
  }

  const deliveries = createDeliveryQueue(opts.deliveryLimits ?? DEFAULT_DELIVERY_LIMITS, (tenantId, alertId) =>
    track(() => deliver(tenantId, alertId).finally(() => deliveries.done(tenantId, alertId)), 'webhook delivery'))
  /** An attempt at the alert once a slot is free (what does not fit stays due for the timer). */
  const deliverSoon = (tenantId: string, alertId: string) => {
    if (!closed) deliveries.offer(tenantId, alertId)
  }

  /**
   * The instant an evaluation is made at: the database's clock (an attempt's is its claim's). Taken from each instance's
   * clock, an instance a day ahead evaluated tomorrow as the current period (a crossing today was never
   * recorded by its timer) and recorded a rolling budget's crossing in tomorrow's day, at tomorrow's instant.
   */
  async function clock(): Promise<Date> {
    const at = await databaseNow(db)
    const skewMs = now().getTime() - at.getTime()
    if (!skewLogged && Math.abs(skewMs) > CLOCK_SKEW_WARN_MS) {
      skewLogged = true
      log.warn({ skewMs }, "budgets: this instance's clock is off the database's; budgets are evaluated at the database's")
    }
    return at
  }

  const backoff = (attempt: number) => Math.min(opts.retryBaseMs * 2 ** (attempt - 1), MAX_RETRY_DELAY_MS)

  function deliverLater(alert: Pick<AlertRow, 'tenant_id' | 'id'>, delayMs: number) {
    if (closed) return
    const timer = setTimeout(() => {
      retries.delete(timer)
      deliverSoon(alert.tenant_id, alert.id)
    }, delayMs).unref()
    retries.add(timer)
  }

  /** One attempt at a due delivery, logged; schedules the next one with exponential backoff. */
  async function deliver(tenantId: string, alertId: string): Promise<void> {
    if (closed) return
    const claimed = await claimDelivery(db, tenantId, alertId, opts.webhookTimeoutMs + 5_000)
    if (!claimed) return
    // The webhook was removed while the alert waited: nothing to deliver, and no receiver failed.
    if (!claimed.webhook_url) return dropDelivery(db, tenantId, alertId, claimed.attempts)
    const attemptedAt = new Date(claimed.claimed_at)
    let secret: string | null = null
    let secretError: string | undefined
    if (claimed.webhook_secret_sealed) {
      try {
        if (!opts.secretBox) throw new Error('no key')
        secret = opts.secretBox.open(claimed.webhook_secret_sealed)
      } catch {
        // Never send unsigned what was meant to be signed.
        secretError = 'the webhook secret cannot be opened with the configured TOKENLEDGER_SECRET_KEY'
      }
    }
    const result = secretError
      ? { statusCode: null, error: secretError, durationMs: 0, ok: false }
      : await postAlert(claimed.webhook_url, alertPayload(claimed, claimed.budget_name), secret, opts.webhookTimeoutMs, attemptedAt, opts.allowPrivateAddresses)
    const attempt = claimed.attempts
    const status = result.ok ? 'delivered' : attempt >= opts.maxAttempts ? 'failed' : 'pending'
    const delay = backoff(attempt)
    const current = await recordAttempt(db, tenantId, alertId, {
      attempt,
      attemptedAt,
      statusCode: result.statusCode,
      error: result.error,
      durationMs: result.durationMs,
      status,
      retryInMs: status === 'pending' ? delay : null,
    })
    if (!current) {
      // Another instance claimed the next attempt once this one's lease ran out (its outcome stands, and it
      // schedules what follows), or the budget was deleted with its alerts.
      log.warn({ alert: alertId, attempt, outcome: status }, 'budgets: a webhook attempt outlived its claim (a later attempt, or the budget deleted); its outcome was not recorded')
      return
    }
    opts.onDelivery?.(status === 'pending' ? 'retried' : status)
    if (status === 'pending') deliverLater(claimed, delay)
    else if (status === 'failed') log.warn({ alert: alertId, attempts: attempt }, 'budgets: webhook delivery gave up')
  }

  /** Evaluates the tenant's budgets that count what was written; false when the database failed any of them. */
  async function evaluateTenant(tenantId: string, written: Written): Promise<boolean> {
    let ok = true
    let rows
    try {
      rows = await listBudgets(db, tenantId)
    } catch (err) {
      if (!isUnavailable(err)) throw err
      log.warn({ err, tenant: tenantId }, 'budgets: evaluation failed')
      return false
    }
    for (const row of rows) {
      const budget = toBudget(row)
      // A budget that does not count what was written cannot have moved.
      if (!countsAny(budget, written.kinds)) continue
      try {
        const recorded = await evaluateBudget(db, budget, await clock(), opts.maxGroups, written.span)
        for (const alert of recorded) if (alert.delivery_status === 'pending') deliverSoon(alert.tenant_id, alert.id)
      } catch (err) {
        if (isUnavailable(err)) ok = false
        log.warn({ err, tenant: tenantId, budget: row.name }, 'budgets: evaluation failed')
      }
    }
    return ok
  }

  /**
   * The span of a failed evaluation goes back into the queue later. The timer evaluates only current
   * periods, so a crossing in an earlier period (a backfill, a connection's lag window reaching into
   * last month) that the database failed to evaluate after its ingest was never recorded.
   */
  function evaluateLater(tenantId: string, written: Written) {
    const failures = (failedInARow.get(tenantId) ?? 0) + 1
    failedInARow.set(tenantId, failures)
    const delay = Math.min(EVALUATION_RETRY_MS * 2 ** (failures - 1), EVALUATION_RETRY_MAX_MS)
    if (closed) return
    const timer = setTimeout(() => {
      retries.delete(timer)
      for (const kind of written.kinds) engine.afterIngest(tenantId, written.span, kind)
    }, delay).unref()
    retries.add(timer)
  }

  async function drain(tenantId: string): Promise<void> {
    // After the current turn: the ingest reply is already on its way.
    await new Promise((resolve) => setImmediate(resolve))
    try {
      // eslint-disable-next-line no-unmodified-loop-condition -- close() sets `closed` while this loop awaits
      for (let written = pending.get(tenantId); written && !closed; written = pending.get(tenantId)) {
        pending.delete(tenantId)
        if (await evaluateTenant(tenantId, written)) failedInARow.delete(tenantId)
        else evaluateLater(tenantId, written)
        // Under sustained ingest, a tenant's next evaluation waits EVALUATION_GAP_MS after the last one; what
        // arrives meanwhile is merged into the next one, so the cost per ingest falls as the rate rises.
        if (pending.has(tenantId)) await new Promise((resolve) => setTimeout(resolve, EVALUATION_GAP_MS).unref())
      }
    } finally {
      draining.delete(tenantId)
    }
  }

  /**
   * The timer's pass: every budget's current period, then the deliveries that are due. Deliveries run
   * beside the pass, not in it: awaited one by one, a receiver that never answers held every later budget
   * and every other tenant's alerts for the webhook timeout per alert (claimDelivery's lease keeps the
   * next pass from starting an attempt that is still running).
   */
  async function tick(): Promise<void> {
    if (ticking || closed || opts.ready?.() === false) return
    ticking = true
    try {
      for (const row of await listAllBudgets(db)) {
        if (closed) return
        try {
          const recorded = await evaluateBudget(db, toBudget(row), await clock(), opts.maxGroups)
          for (const alert of recorded) if (alert.delivery_status === 'pending') deliverSoon(alert.tenant_id, alert.id)
        } catch (err) {
          log.warn({ err, tenant: row.tenant_id, budget: row.name }, 'budgets: evaluation failed')
        }
      }
      for (const due of await dueDeliveries(db, DUE_BATCH)) deliverSoon(due.tenant_id, due.id)
    } finally {
      ticking = false
    }
  }

  const engine = {
    /**
     * Called by the ingest routes once their write committed, with the span of the written rows'
     * start times. Returns at once; evaluation runs after the reply.
     */
    afterIngest(tenantId: string, span: Span | undefined, kind: IngestKind): void {
      if (closed || !span) return
      const before = pending.get(tenantId)
      if (!before) pending.set(tenantId, { span, kinds: new Set([kind]) })
      else {
        before.span = {
          start: before.span.start < span.start ? before.span.start : span.start,
          end: before.span.end > span.end ? before.span.end : span.end,
        }
        before.kinds.add(kind)
      }
      if (draining.has(tenantId)) return
      draining.add(tenantId)
      track(() => drain(tenantId), 'evaluation after ingest')
    },
    /** The timer's pass, on demand (tests, operations). */
    tick,
    /** Starts the timer (unref'd: it never keeps the process alive). */
    start(): void {
      if (opts.intervalMs === 'off' || interval || closed) return
      interval = setInterval(() => track(tick, 'scheduled evaluation'), opts.intervalMs).unref()
    },
    /** Resolves once no evaluation or delivery attempt is running (scheduled retries may follow). */
    async idle(): Promise<void> {
      while (tasks.size > 0) await Promise.allSettled([...tasks])
    },
    async close(): Promise<void> {
      closed = true
      deliveries.clear()
      if (interval) clearInterval(interval)
      for (const t of retries) clearTimeout(t)
      retries.clear()
      while (tasks.size > 0) await Promise.allSettled([...tasks])
    },
  }
  return engine
}

export type BudgetEngine = ReturnType<typeof createBudgetEngine>
