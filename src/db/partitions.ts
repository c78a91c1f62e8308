import type { Db } from './client.js'

/**
 * Monthly partitions of the raw tables (migration `partition_by_month`) and retention by dropping whole partitions.
 *
 * - The raw tables are range-partitioned by UTC month on the column below, each with a default
 *   partition, so a write never fails for lack of a partition. The server creates the current month
 *   and `monthsAhead` more at start-up and on a timer (src/db/partitions-plugin.ts); a month created
 *   after rows of it reached the default partition takes those rows with it (the SQL function
 *   `tokenledger_month_partition`, migration `partition_by_month`, is the one definition of names, bounds and that move;
 *   since migration 0023 it takes the table's lock before it looks for such rows, so a write committing meanwhile is moved too).
 * - Retention drops the month partitions that lie wholly before the cutoff and deletes older rows from
 *   the default partition. Both name the partitions, so the parent's statement triggers do not fire
 *   and the hourly rollup keeps those hours: rollups outlive raw rows by design.
 * - The rollups and the event id ledger are not partitioned (they are much smaller); their own,
 *   longer retention deletes rows by hour.
 */
export const PARTITIONED_TABLES = [
  { table: 'usage_buckets', column: 'start_time' },
  { table: 'usage_resources', column: 'start_time' },
  { table: 'usage_events', column: 'timestamp' },
] as const

/**
 * Kept ROLLUP_RETENTION_MONTHS. The event id ledger goes with the event rollups: while an hour's
 * rollup exists, a replayed event of that hour must still be recognised, or it would count twice.
 * Events' resources are read by `usage` beside the event rollups (there is no rollup of them), so they
 * live as long as the event rollups do, not as long as the raw events.
 */
const ROLLUP_TABLES = [
  { table: 'usage_bucket_hourly', column: 'hour' },
  // A local day of a zone east of UTC starts before the UTC month holding most of it (Kolkata's 1st starts
  // at 18:30 UTC on the last day before): a row goes once its whole local day lies before the cutoff.
  { table: 'usage_bucket_daily', column: 'day', end: `(("day" at time zone time_zone) + interval '1 day') at time zone time_zone` },
  { table: 'usage_event_rollups', column: 'hour' },
  { table: 'usage_event_ids', column: 'timestamp' },
  { table: 'usage_event_resources', column: 'timestamp' },
] as const

// Arbitrary constant shared by every tokenledger instance, so two servers starting at once create and
// drop partitions one after the other (the migration lock is 7_261_532_001, the test templates' 7_261_532_002).
const PARTITION_LOCK_KEY = 7_261_532_010

/**
 * How long maintenance waits for a table lock. Creating, detaching or dropping a partition takes an
 * ACCESS EXCLUSIVE lock on the partitioned table; while it waits behind a long transaction (a CSV
 * import, an export read by a slow client) every later statement on the table — every tenant's reads
 * and writes — queues behind it, until the statement timeout. Giving up is harmless: the default
 * partition takes any month, and the next tick tries again.
 */
const PARTITION_LOCK_TIMEOUT_MS = 1_000

/** The first instant of the UTC month `offset` months from the one holding `at`. */
export function utcMonth(at: Date, offset = 0): Date {
  return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + offset, 1))
}

/**
 * The retention cutoff: the first instant of the UTC month `retentionMonths` before now's (undefined:
 * raw rows are kept forever). The one definition: retention drops what lies before it, and every write
 * path refuses rows that start before it (src/ingest/retention.ts) — their raw rows may be gone while
 * the hourly rollups still count them, so storing them again would count them twice. Also the rollups'
 * cutoff (ROLLUP_RETENTION_MONTHS).
 *
 * A cutoff before 1970 is 1970-01-01, the first instant tokenledger stores (src/time/instant.ts), which
 * keeps the same rows. Counted back from now, RETENTION_MONTHS=99999 reached a year PostgreSQL cannot
 * hold (every maintenance failed: no month was created ahead) and 4000000 one JavaScript cannot (an
 * Invalid Date: every write path answered 500).
 */
export function retentionCutoff(retentionMonths: number | undefined, now = new Date()): Date | undefined {
  if (retentionMonths === undefined) return undefined
  const sinceEpoch = (now.getUTCFullYear() - 1970) * 12 + now.getUTCMonth()
  return retentionMonths >= sinceEpoch ? new Date(0) : utcMonth(now, -retentionMonths)
}

export interface RetentionPolicy {
  /** Raw buckets, resources and events: keep the current month and this many before it (undefined: forever). */
  retentionMonths?: number | undefined
  /** ROLLUP_TABLES (hourly and daily rollups, the event id ledger, events' resources), counted the same way (undefined: forever). */
  rollupRetentionMonths?: number | undefined
}

export interface MaintenanceResult {
  /** Month partitions created (current month and `monthsAhead` after it, those missing). */
  created: string[]
  dropped: string[]
  /** Rows older than the cutoff deleted from the default partitions. */
  defaultRowsDeleted: number
  rollupRowsDeleted: number
}

async function createMonths(tx: Db, now: Date, monthsAhead: number): Promise<string[]> {
  const created: string[] = []
  for (let i = 0; i <= monthsAhead; i++) {
    for (const { table, column } of PARTITIONED_TABLES) {
      const [row] = await tx.query<{ name: string | null }>('select tokenledger_month_partition($1, $2, $3) as name', [
        table,
        column,
        utcMonth(now, i),
      ])
      if (row?.name) created.push(row.name)
    }
  }
  return created
}

export interface MonthPartition {
  name: string
  /** First instant of the month it holds. */
  month: Date
}

/** The month partitions of one partitioned table (not its default partition), oldest first. */
export async function monthPartitions(db: Db, table: string): Promise<MonthPartition[]> {
  const rows = await db.query<{ name: string }>(
    `select c.relname as name from pg_inherits i
       join pg_class c on c.oid = i.inhrelid join pg_class p on p.oid = i.inhparent
     where p.oid = to_regclass($1) order by c.relname`,
    [table],
  )
  const pattern = new RegExp(`^${table}_p(\\d{4})(\\d{2})$`)
  return rows.flatMap(({ name }) => {
    const m = pattern.exec(name)
    return m ? [{ name, month: new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, 1)) }] : []
  })
}

/**
 * A partition is dropped once its whole month lies before the cutoff (the first instant of the month
 * `retentionMonths` before now's), so at least that many full months are always kept.
 */
async function retain(tx: Db, policy: RetentionPolicy, now: Date): Promise<Omit<MaintenanceResult, 'created'>> {
  const result = { dropped: [] as string[], defaultRowsDeleted: 0, rollupRowsDeleted: 0 }
  const cutoff = retentionCutoff(policy.retentionMonths, now)
  if (cutoff) {
    for (const { table, column } of PARTITIONED_TABLES) {
      for (const p of await monthPartitions(tx, table)) {
        if (utcMonth(p.month, 1) > cutoff) continue
        // The name came from the catalog and matched table_pYYYYMM, so quoting it is enough.
        await tx.query(`drop table "${p.name}"`)
        result.dropped.push(p.name)
      }
      // The table's SHARE lock first, as a DROP above takes ACCESS EXCLUSIVE: a bucket write holds ROW
      // EXCLUSIVE on it from its retention check (retentionMovedUnderLock) to its commit, so the DELETE
      // waits for a write that passed the old cutoff, and a later write waits and then sees the new one.
      // Deleting from the default partition by name locks only that partition, and rows of an old month
      // it removed were written again by a write in flight (counted twice by the rollups that keep them).
      await tx.query(`lock table only "${table}" in share mode`)
      result.defaultRowsDeleted += await deleteBefore(tx, `${table}_default`, column, cutoff)
    }
  }
  const rollupCutoff = retentionCutoff(policy.rollupRetentionMonths, now)
  if (rollupCutoff) {
    for (const r of ROLLUP_TABLES) result.rollupRowsDeleted += await deleteBefore(tx, r.table, r.column, rollupCutoff, 'end' in r ? r.end : undefined)
  }
  return result
}

/**
 * Rows whose `column` (the start of the hour, day or instant they stand for) is before the cutoff, or
 * with `end` (the end of the period they stand for), those whose period ends by it. Table, column and
 * end expression are constants of this module, never input.
 */
async function deleteBefore(tx: Db, table: string, column: string, cutoff: Date, end?: string): Promise<number> {
  const before = end ? `"${column}" < $1 and ${end} <= $1` : `"${column}" < $1`
  const [row] = await tx.query<{ n: number }>(
    `with d as (delete from "${table}" where ${before} returning 1) select count(*)::int8 as n from d`,
    [cutoff],
  )
  return row?.n ?? 0
}

/**
 * Start-up and timer work: partitions ahead, then retention, in one transaction under the lock; then the
 * statistics, after it commits.
 */
export async function maintainPartitions(
  db: Db,
  policy: RetentionPolicy & { monthsAhead?: number },
  now = new Date(),
): Promise<MaintenanceResult> {
  const result = await db.transaction(async (tx) => {
    await tx.query('select pg_advisory_xact_lock($1)', [PARTITION_LOCK_KEY])
    // After the advisory lock: a second maintainer waits for the first one as before.
    await tx.query(`set local lock_timeout = ${PARTITION_LOCK_TIMEOUT_MS}`)
    const created = await createMonths(tx, now, policy.monthsAhead ?? 3)
    const retained = await retain(tx, policy, now)
    return { created, ...retained }
  })
  // The parent's statistics, with the extended statistics object of migration 0013 (the group counts
  // of base-table usage statements): autovacuum analyzes partitions, never a partitioned parent, so
  // without this they would never be built. Also refreshes each partition's (PostgreSQL recurses).
  // The rollups too (migration 0014's object on the daily one): a server whose PostgreSQL runs without
  // autovacuum had never analyzed them, and a 10M-bucket daily read sorted 416,670 rows on disk that
  // it hash-aggregates once they are (docs/performance.md). Outside the transaction: there it held the
  // ACCESS EXCLUSIVE lock of a created or dropped partition while it sampled every partition (every
  // tenant's usage reads and writes waited), and a rollup being vacuumed made it miss the lock timeout
  // and roll the new months and the retention back. Its own lock conflicts with no read or write.
  await db.query('analyze usage_buckets, usage_bucket_daily, usage_bucket_hourly')
  return result
}
