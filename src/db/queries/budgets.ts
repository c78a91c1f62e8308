import { and, eq, sql, type SQL } from 'drizzle-orm'
import type { Db } from '../client.js'
import { inCodePointOrder, orm } from '../orm.js'
import { budgets } from '../schema.js'
import { arrayParam } from '../array-literal.js'

export interface BudgetRow {
  tenant_id: string
  id: string
  name: string
  amount: string
  period: string
  time_zone: string
  filter: Record<string, unknown>
  rate_card: string
  thresholds: number[]
  webhook_url: string | null
  /** Sealed (src/crypto/secret-box); opened only to sign a delivery. */
  webhook_secret_sealed: string | null
  created_at: Date
  updated_at: Date
}

const BUDGET_COLUMNS = sql.raw(
  'tenant_id, id, name, amount::text as amount, period, time_zone, filter, rate_card, thresholds, webhook_url, webhook_secret_sealed, created_at, updated_at',
)

export interface BudgetInput {
  tenantId: string
  id: string
  name: string
  amount: string
  period: string
  timeZone: string
  filter: Record<string, unknown>
  rateCard: string
  thresholds: number[]
  webhookUrl: string | null
  /** The secret to store (sealed), or null for none; unless the stored one is kept (keepSecretOf). */
  webhookSecretSealed: string | null
  /**
   * The stored webhook_url whose secret stays (a PUT without webhook_secret to the same origin: it is never
   * echoed, so a client cannot send it back). Kept only while that is still the stored URL: if a concurrent
   * PUT moved it meanwhile, this one stores webhookSecretSealed rather than sign with a secret given for another receiver.
   */
  keepSecretOf: string | null
}

/**
 * Budgets one tenant may hold. Each is evaluated on every timer pass, in one loop shared by every tenant,
 * and read one by one by `GET /v1/budgets`: without a bound, one tenant's 100,000 budgets delayed every
 * other tenant's alerts by the time their spend queries take.
 */
export const MAX_BUDGETS_PER_TENANT = 1000

/** Advisory lock class (two-key form, the tenant's hash second) under which one tenant's budget writes take turns. */
const BUDGET_WRITE_LOCK_CLASS = 0x746c_6275

/**
 * Create-or-update by (tenant, name); `created` tells which. The id of an existing budget never changes.
 * A new name when the tenant already holds MAX_BUDGETS_PER_TENANT budgets writes nothing: null.
 *
 * One tenant's writes take turns (a transaction-level advisory lock), and the count is taken after the
 * turn, in a statement of its own: counted in the insert's own statement, concurrent PUTs of new names each
 * saw only the budgets committed before they began, and several took the last free place at once.
 */
export async function upsertBudget(db: Db, b: BudgetInput): Promise<{ budget: BudgetRow; created: boolean } | null> {
  return db.transaction(async (tx) => {
    await tx.query(sql`select pg_advisory_xact_lock(${BUDGET_WRITE_LOCK_CLASS}::int4, hashtext(${b.tenantId}))`)
    return insertOrUpdateBudget(tx, b)
  })
}

async function insertOrUpdateBudget(db: Db, b: BudgetInput): Promise<{ budget: BudgetRow; created: boolean } | null> {
  const rows = await db.query<BudgetRow & { created: boolean }>(sql`
    insert into budgets (tenant_id, id, name, amount, period, time_zone, filter, rate_card, thresholds, webhook_url, webhook_secret_sealed)
    select ${b.tenantId}, ${b.id}, ${b.name}, ${b.amount}::numeric, ${b.period}, ${b.timeZone}, ${JSON.stringify(b.filter)}::text::jsonb,
      ${b.rateCard}, ${sql.param(b.thresholds)}::int[], ${b.webhookUrl}, ${b.webhookSecretSealed}
    where exists (select 1 from budgets where tenant_id = ${b.tenantId} and name = ${b.name})
      or (select count(*) from budgets where tenant_id = ${b.tenantId}) < ${MAX_BUDGETS_PER_TENANT}
    on conflict (tenant_id, name) do update set amount = excluded.amount, period = excluded.period,
      time_zone = excluded.time_zone, filter = excluded.filter, rate_card = excluded.rate_card,
      thresholds = excluded.thresholds, webhook_url = excluded.webhook_url,
      webhook_secret_sealed = case when budgets.webhook_url = ${b.keepSecretOf}
        then budgets.webhook_secret_sealed else excluded.webhook_secret_sealed end,
      updated_at = now()
    returning ${BUDGET_COLUMNS}, (xmax = 0) as created`)
  if (!rows[0]) return null
  const { created, ...budget } = rows[0]
  return { budget, created }
}

/** A budget as its callers read it (snake_case, as the REST shape and the evaluator use it). */
const BUDGET_SELECT = {
  tenant_id: budgets.tenantId,
  id: budgets.id,
  name: budgets.name,
  amount: budgets.amount,
  period: budgets.period,
  time_zone: budgets.timeZone,
  filter: budgets.filter,
  rate_card: budgets.rateCard,
  thresholds: budgets.thresholds,
  webhook_url: budgets.webhookUrl,
  webhook_secret_sealed: budgets.webhookSecretSealed,
  created_at: budgets.createdAt,
  updated_at: budgets.updatedAt,
}

export async function getBudget(db: Db, tenantId: string, name: string): Promise<BudgetRow | undefined> {
  const rows = await orm(db, (d) =>
    d.select(BUDGET_SELECT).from(budgets).where(and(eq(budgets.tenantId, tenantId), eq(budgets.name, name))),
  )
  return rows[0]
}

/** Budgets are listed by name in code-point order, whatever the database's collation (inCodePointOrder). */
const BY_NAME = inCodePointOrder(budgets.name)

/** The tenant's budgets, by name in code-point order (BY_NAME). */
export async function listBudgets(db: Db, tenantId: string): Promise<BudgetRow[]> {
  return orm(db, (d) => d.select(BUDGET_SELECT).from(budgets).where(eq(budgets.tenantId, tenantId)).orderBy(BY_NAME))
}

/** Every tenant's budgets, for the timer (one instance-wide pass per interval). */
export async function listAllBudgets(db: Db): Promise<BudgetRow[]> {
  return orm(db, (d) => d.select(BUDGET_SELECT).from(budgets).orderBy(budgets.tenantId, BY_NAME))
}

export async function deleteBudget(db: Db, tenantId: string, name: string): Promise<boolean> {
  const rows = await orm(db, (d) =>
    d
      .delete(budgets)
      .where(and(eq(budgets.tenantId, tenantId), eq(budgets.name, name)))
      .returning({ id: budgets.id }),
  )
  return rows.length > 0
}

export interface AlertCandidate {
  id: string
  periodStart: Date
  periodEnd: Date
  threshold: number
  spent: string
  /** Whether every usage in `spent` had a price. */
  complete: boolean
}

export interface AlertRow {
  tenant_id: string
  id: string
  budget_id: string
  period_start: Date
  period_end: Date
  threshold: number
  amount: string
  spent: string
  /** null: recorded before completeness was kept (migration 0025). */
  complete: boolean | null
  crossed_at: Date
  delivery_status: 'pending' | 'delivered' | 'failed' | 'none'
  attempts: number
  next_attempt_at: Date | null
}

const ALERT_COLUMNS = sql.raw(
  'tenant_id, id, budget_id, period_start, period_end, threshold, amount::text as amount, spent::text as spent, complete, crossed_at, delivery_status, attempts, next_attempt_at',
)

/**
 * The one clock for delivery leases and due times. Several instances share the database, each with its
 * own clock: a lease or due time one instance computed from its clock and another compared with its own
 * let an instance a minute ahead take over an attempt still running, and made a retry scheduled by an
 * instance ten minutes ahead wait ten minutes more than its backoff everywhere else.
 */
const DB_CLOCK = sql.raw('clock_timestamp()')

/**
 * The database's clock (DB_CLOCK) as an instant: what budgets are evaluated at, crossings recorded at and
 * attempts made at, so that every instance agrees on which period is current and when a threshold was crossed.
 */
export async function databaseNow(db: Db): Promise<Date> {
  const [row] = await db.query<{ now: Date }>(sql`select ${DB_CLOCK} as now`)
  return new Date(row!.now)
}

/** Whether alert `a` (of the same budget, period and threshold) still stands at the budget's current amount. */
const alertStands = (currentAmount: SQL) => sql`a.amount >= ${currentAmount}`

/**
 * Records the crossings that were not recorded before, in one statement. The unique key (tenant, budget,
 * period start and end, threshold, amount) decides: of any number of concurrent evaluations, exactly one inserts
 * each alert and sees it returned; the others insert nothing.
 *
 * An alert stands for its threshold at the amount it was recorded with (alertStands): one recorded at
 * an amount at least the budget's current one covers the threshold (the spend passed that level too), so
 * lowering the amount re-sends nothing; a raised amount re-arms every threshold.
 *
 * The budget is read again here, in the insert itself: an evaluation reads its budget before it computes
 * the spend (the timer's pass lists every budget first), so a PUT or DELETE may have committed meanwhile.
 * A candidate is recorded at the budget's current amount, only while its threshold is still one of the
 * budget's and the spend still reaches it at that amount, with the current webhook's delivery status; a
 * deleted budget records nothing. (Recorded at the amount the evaluation had read, a crossing after the
 * amount was lowered was alerted twice — at the new amount and at the old one — and a raise or a removed
 * threshold alerted a level the budget no longer had.) Nothing is recorded either once the budget measures
 * something else than was evaluated — another period, time zone, filter or rate card: a day budget was
 * alerted with the month's period and spend it had before the PUT, a narrowed filter with usage it no
 * longer counted. Its next evaluation (after ingest, or the timer's) measures what it is now.
 */
export async function recordAlerts(
  db: Db,
  budget: Pick<BudgetRow, 'tenant_id' | 'id' | 'period' | 'time_zone' | 'rate_card'> & { filter: object },
  candidates: AlertCandidate[],
  crossedAt: Date,
): Promise<AlertRow[]> {
  if (candidates.length === 0) return []
  const at = sql`${crossedAt.toISOString()}::timestamptz`
  return db.query<AlertRow>(sql`
    insert into budget_alerts (tenant_id, id, budget_id, period_start, period_end, threshold, amount, spent, complete, crossed_at, delivery_status, next_attempt_at)
    select b.tenant_id, c.id, b.id, c.period_start, c.period_end, c.threshold, b.amount, c.spent, c.complete,
      ${at}, case when b.webhook_url is not null then 'pending' else 'none' end, case when b.webhook_url is not null then ${DB_CLOCK} end
    from unnest(${arrayParam(candidates.map((c) => c.id), 'text[]')}, ${arrayParam(candidates.map((c) => c.periodStart.toISOString()), 'timestamptz[]')},
      ${arrayParam(candidates.map((c) => c.periodEnd.toISOString()), 'timestamptz[]')}, ${arrayParam(candidates.map((c) => String(c.threshold)), 'int[]')},
      ${arrayParam(candidates.map((c) => c.spent), 'numeric[]')}, ${arrayParam(candidates.map((c) => String(c.complete)), 'bool[]')})
      as c(id, period_start, period_end, threshold, spent, complete)
    join budgets b on b.tenant_id = ${budget.tenant_id} and b.id = ${budget.id} and b.period = ${budget.period}
      and b.time_zone = ${budget.time_zone} and b.rate_card = ${budget.rate_card} and b.filter = ${JSON.stringify(budget.filter)}::text::jsonb
    where c.threshold = any(b.thresholds) and c.spent * 100 >= b.amount * c.threshold
      and not exists (select from budget_alerts a where a.tenant_id = b.tenant_id and a.budget_id = b.id
        and a.period_start = c.period_start and a.period_end = c.period_end and a.threshold = c.threshold
        and ${alertStands(sql`b.amount`)})
    order by c.period_start, c.threshold
    on conflict (tenant_id, budget_id, period_start, period_end, threshold, amount) do nothing
    returning ${ALERT_COLUMNS}`)
}

/**
 * The thresholds recorded by `at` for one period of a budget that still stand at its current amount
 * (recordAlerts). A period is its start and its end: a budget switched from month to day on the 1st has
 * two periods that start together. An alert recorded after `at` is left out: a status as it stood at a
 * past instant counts the spend up to it, and showed a threshold crossed that its spend had not reached.
 */
export async function recordedThresholds(
  db: Db,
  budget: Pick<BudgetRow, 'tenant_id' | 'id' | 'amount'>,
  period: { start: Date; end: Date },
  at: Date,
): Promise<number[]> {
  const rows = await db.query<{ threshold: number }>(
    sql`select distinct threshold from budget_alerts a where tenant_id = ${budget.tenant_id} and budget_id = ${budget.id}
        and period_start = ${period.start.toISOString()}::timestamptz and period_end = ${period.end.toISOString()}::timestamptz
        and crossed_at <= ${at.toISOString()}::timestamptz and ${alertStands(sql`${budget.amount}::numeric`)} order by threshold`,
  )
  return rows.map((r) => r.threshold)
}

export interface DeliveryRow {
  alert_id: string
  attempt: number
  attempted_at: Date
  status_code: number | null
  error: string | null
  duration_ms: number
}

/** A budget's alerts, newest period first (within one, highest threshold, then latest crossing: a raised amount re-arms), with every delivery attempt. */
export async function listAlerts(db: Db, tenantId: string, budgetId: string, limit: number): Promise<(AlertRow & { deliveries: DeliveryRow[] })[]> {
  const alerts = await db.query<AlertRow>(
    sql`select ${ALERT_COLUMNS} from budget_alerts where tenant_id = ${tenantId} and budget_id = ${budgetId}
        order by period_start desc, period_end desc, threshold desc, crossed_at desc, ${inCodePointOrder(sql`id`)} limit ${limit}`,
  )
  if (alerts.length === 0) return []
  const deliveries = await db.query<DeliveryRow>(
    sql`select alert_id, attempt, attempted_at, status_code, error, duration_ms from budget_alert_deliveries
        where tenant_id = ${tenantId} and alert_id = any(${sql.param(alerts.map((a) => a.id))}::text[]) order by alert_id, attempt`,
  )
  return alerts.map((a) => ({ ...a, deliveries: deliveries.filter((d) => d.alert_id === a.id) }))
}

export interface ClaimedAlert extends AlertRow {
  /** The database's clock (DB_CLOCK) at the claim: the instant the attempt is made at. */
  claimed_at: Date
  budget_name: string
  webhook_url: string | null
  webhook_secret_sealed: string | null
}

/**
 * Claims one due delivery for an attempt: moves `next_attempt_at` past the attempt's lease, so no other
 * timer or instance starts the same attempt meanwhile. undefined when it is not due (or not pending).
 * Due and lease are the database's clock (DB_CLOCK), the one every instance shares.
 */
export async function claimDelivery(db: Db, tenantId: string, alertId: string, leaseMs: number): Promise<ClaimedAlert | undefined> {
  const rows = await db.query<ClaimedAlert>(sql`
    with claimed as (
      update budget_alerts set next_attempt_at = ${DB_CLOCK} + ${leaseMs}::float8 * interval '1 millisecond', attempts = attempts + 1
      where tenant_id = ${tenantId} and id = ${alertId} and delivery_status = 'pending'
        and next_attempt_at <= ${DB_CLOCK}
      returning ${ALERT_COLUMNS})
    select c.*, ${DB_CLOCK} as claimed_at, b.name as budget_name, b.webhook_url, b.webhook_secret_sealed
    from claimed c join budgets b on b.tenant_id = c.tenant_id and b.id = c.budget_id`)
  return rows[0]
}

/**
 * An alert whose budget has no webhook any more: `none`, as if recorded without one (the claim's attempt is
 * given back). Only while `attempt` is still the alert's latest claim (recordAttempt).
 */
export async function dropDelivery(db: Db, tenantId: string, alertId: string, attempt: number): Promise<void> {
  await db.query(sql`update budget_alerts set delivery_status = 'none', next_attempt_at = null, attempts = attempts - 1
    where tenant_id = ${tenantId} and id = ${alertId} and delivery_status = 'pending' and attempts = ${attempt}`)
}

/** Alerts whose delivery is due by the database's clock (DB_CLOCK; first attempts and retries), oldest first. */
export async function dueDeliveries(db: Db, limit: number): Promise<{ tenant_id: string; id: string }[]> {
  return db.query(
    sql`select tenant_id, id from budget_alerts where delivery_status = 'pending' and next_attempt_at <= ${DB_CLOCK}
        order by next_attempt_at limit ${limit}`,
  )
}

export interface AttemptOutcome {
  attempt: number
  attemptedAt: Date
  statusCode: number | null
  error: string | null
  durationMs: number
  /** The alert's state after this attempt. */
  status: 'pending' | 'delivered' | 'failed'
  /** While pending: the next attempt is due this long after now by the database's clock (DB_CLOCK). */
  retryInMs: number | null
}

/**
 * Logs one attempt and moves the alert on, atomically — only while this attempt is still the alert's latest
 * claim and the alert is still pending; false when it is not (the attempt is logged all the same: it was
 * made). An attempt that outlived its lease (its instance stalled: a GC pause, a suspended VM) finished
 * after another instance had claimed and recorded the next one, and overwrote that one's outcome: a
 * delivered alert went back to pending and was sent again, or a retry's due time and the attempt count
 * moved back. An alert deleted meanwhile (with its budget) logs nothing: the delivery log's foreign key failed the statement.
 */
export async function recordAttempt(db: Db, tenantId: string, alertId: string, o: AttemptOutcome): Promise<boolean> {
  const rows = await db.query<{ id: string }>(sql`
    with logged as (
      insert into budget_alert_deliveries (tenant_id, alert_id, attempt, attempted_at, status_code, error, duration_ms)
      select ${tenantId}, ${alertId}, ${o.attempt}, ${o.attemptedAt.toISOString()}::timestamptz, ${o.statusCode}, ${o.error}, ${o.durationMs}
      where exists (select from budget_alerts where tenant_id = ${tenantId} and id = ${alertId})
      on conflict do nothing)
    update budget_alerts set delivery_status = ${o.status}, next_attempt_at = ${DB_CLOCK} + ${o.retryInMs}::float8 * interval '1 millisecond'
    where tenant_id = ${tenantId} and id = ${alertId} and delivery_status = 'pending' and attempts = ${o.attempt}
    returning id`)
  return rows.length > 0
}
