import { and, eq } from 'drizzle-orm'
import type { Db } from '../db/client.js'
import { inCodePointOrder, orm } from '../db/orm.js'
import { connections } from '../db/schema.js'
import { LIVENESS_LOCK_CLASS } from './liveness.js'

/**
 * The connections table's queries. Run state (lease, progress, last run) is only ever changed by the
 * lease holder (`lease_owner = $owner` in every run statement), so two instances cannot both write it.
 */

export interface LastRun {
  started_at: string
  finished_at: string | null
  status: 'running' | 'succeeded' | 'failed'
  pages: number
  rows: number
  error: string | null
  /**
   * Stored inside last_run: the run before it, as it ended (the API's `previous_run`). Without it a
   * client that started a run could not tell its outcome once a later run had begun.
   */
  previous?: LastRun | null
}

/** last_run.error of a `running` run whose lease lapsed: no instance will ever record its end. */
export const ABANDONED_RUN = 'the instance running it stopped before recording an outcome (its lease lapsed); the next run resumes from synced_until'

export interface ConnectionRow {
  tenant_id: string
  id: string
  name: string
  provider: string
  admin_key_sealed: string
  admin_key_last4: string
  account_id: string | null
  base_url: string
  start_date: Date
  interval_minutes: number
  lag_hours: number
  bucket_width: '1h' | '1d'
  endpoints: string[]
  enabled: boolean
  synced_until: Record<string, string | null>
  next_run_at: Date
  last_run: LastRun | null
  lease_owner: string | null
  lease_until: Date | null
  created_at: Date
  updated_at: Date
}

const COLUMNS = `tenant_id, id, name, provider, admin_key_sealed, admin_key_last4, account_id, base_url, start_date,
  interval_minutes, lag_hours, bucket_width, endpoints, enabled, synced_until, next_run_at, last_run, lease_owner,
  lease_until, created_at, updated_at`

export type NewConnection = Pick<
  ConnectionRow,
  'tenant_id' | 'id' | 'name' | 'provider' | 'admin_key_sealed' | 'admin_key_last4' | 'account_id' | 'base_url' | 'start_date' | 'interval_minutes' | 'lag_hours' | 'bucket_width' | 'endpoints'
>

/** A connection as its callers read it (snake_case); the JSON columns typed as the puller writes them. */
const CONNECTION_SELECT = {
  tenant_id: connections.tenantId,
  id: connections.id,
  name: connections.name,
  provider: connections.provider,
  admin_key_sealed: connections.adminKeySealed,
  admin_key_last4: connections.adminKeyLast4,
  account_id: connections.accountId,
  base_url: connections.baseUrl,
  start_date: connections.startDate,
  interval_minutes: connections.intervalMinutes,
  lag_hours: connections.lagHours,
  bucket_width: connections.bucketWidth,
  endpoints: connections.endpoints,
  enabled: connections.enabled,
  synced_until: connections.syncedUntil,
  next_run_at: connections.nextRunAt,
  last_run: connections.lastRun,
  lease_owner: connections.leaseOwner,
  lease_until: connections.leaseUntil,
  created_at: connections.createdAt,
  updated_at: connections.updatedAt,
}

/** The builder types bucket_width as text and last_run as JSON; the store only ever writes these shapes. */
const asConnectionRow = (r: { bucket_width: string; last_run: unknown }) => r as unknown as ConnectionRow

/** Inserts; undefined when the tenant already has a connection of that name. */
export async function insertConnection(db: Db, c: NewConnection): Promise<ConnectionRow | undefined> {
  const rows = await orm(db, (d) =>
    d
      .insert(connections)
      .values({
        tenantId: c.tenant_id,
        id: c.id,
        name: c.name,
        provider: c.provider,
        adminKeySealed: c.admin_key_sealed,
        adminKeyLast4: c.admin_key_last4,
        accountId: c.account_id,
        baseUrl: c.base_url,
        startDate: c.start_date,
        intervalMinutes: c.interval_minutes,
        lagHours: c.lag_hours,
        bucketWidth: c.bucket_width,
        endpoints: c.endpoints,
      })
      .onConflictDoNothing({ target: [connections.tenantId, connections.name] })
      .returning(CONNECTION_SELECT),
  )
  return rows[0] && asConnectionRow(rows[0])
}

/** A tenant's connections, oldest first; those created at the same instant by id in code-point order (inCodePointOrder). */
export async function listConnections(db: Db, tenantId: string): Promise<ConnectionRow[]> {
  const rows = await orm(db, (d) =>
    d.select(CONNECTION_SELECT).from(connections).where(eq(connections.tenantId, tenantId)).orderBy(connections.createdAt, inCodePointOrder(connections.id)),
  )
  return rows.map(asConnectionRow)
}

export async function getConnection(db: Db, tenantId: string, id: string): Promise<ConnectionRow | undefined> {
  const rows = await orm(db, (d) =>
    d.select(CONNECTION_SELECT).from(connections).where(and(eq(connections.tenantId, tenantId), eq(connections.id, id))),
  )
  return rows[0] && asConnectionRow(rows[0])
}

export interface ConnectionPatch {
  name?: string | undefined
  admin_key_sealed?: string | undefined
  admin_key_last4?: string | undefined
  base_url?: string | undefined
  interval_minutes?: number | undefined
  lag_hours?: number | undefined
  endpoints?: string[] | undefined
  enabled?: boolean | undefined
}

/** Applies the given fields; 'duplicate' when the new name is taken, undefined when there is no such connection. */
export async function updateConnection(db: Db, tenantId: string, id: string, patch: ConnectionPatch): Promise<ConnectionRow | 'duplicate' | undefined> {
  const sets: string[] = []
  const params: unknown[] = [tenantId, id]
  for (const [col, value] of Object.entries(patch)) {
    if (value === undefined) continue
    params.push(col === 'endpoints' ? JSON.stringify(value) : value)
    sets.push(`${col} = $${params.length}${col === 'endpoints' ? '::text::jsonb' : col === 'interval_minutes' ? '::int' : ''}`)
    // A shorter interval takes effect now, not after the previously planned run.
    if (col === 'interval_minutes') sets.push(`next_run_at = least(next_run_at, clock_timestamp() + make_interval(mins => $${params.length}::int))`)
  }
  try {
    const rows = await db.query<ConnectionRow>(
      `update connections set ${[...sets, 'updated_at = now()'].join(', ')} where tenant_id = $1 and id = $2 returning ${COLUMNS}`,
      params,
    )
    return rows[0]
  } catch (err) {
    if ((err as { code?: unknown }).code === '23505') return 'duplicate'
    throw err
  }
}

export async function deleteConnection(db: Db, tenantId: string, id: string): Promise<boolean> {
  const rows = await orm(db, (d) =>
    d
      .delete(connections)
      .where(and(eq(connections.tenantId, tenantId), eq(connections.id, id)))
      .returning({ id: connections.id }),
  )
  return rows.length > 0
}

/**
 * Takes the connection's lease when nobody holds it (or the holder's lapsed) and marks the run
 * started, in one statement: of two instances racing for it, exactly one gets the row back.
 * `dueOnly`: the scheduler's claim, only for enabled connections whose next run is due.
 * The run it replaces is kept as `previous` (one deep), ended as the view shows it: a `running` run
 * here has lost its lease, so it failed when the lease lapsed (ABANDONED_RUN).
 */
export async function claimLease(db: Db, tenantId: string, id: string, owner: string, leaseMs: number, dueOnly: boolean): Promise<ConnectionRow | undefined> {
  const rows = await db.query<ConnectionRow>(
    `update connections set lease_owner = $3, lease_until = clock_timestamp() + make_interval(secs => $4::double precision / 1000),
       last_run = jsonb_build_object('started_at', to_jsonb(clock_timestamp()), 'finished_at', null, 'status', 'running', 'pages', 0, 'rows', 0, 'error', null,
         'previous', case when last_run ->> 'status' = 'running'
           then (last_run - 'previous') || jsonb_build_object('status', 'failed', 'finished_at', to_jsonb(coalesce(lease_until, clock_timestamp())), 'error', $5::text)
           else last_run - 'previous' end)
     where tenant_id = $1 and id = $2 and (lease_until is null or lease_until < clock_timestamp())
       ${dueOnly ? 'and enabled and next_run_at <= clock_timestamp()' : ''}
     returning ${COLUMNS}`,
    [tenantId, id, owner, leaseMs, ABANDONED_RUN],
  )
  return rows[0]
}

/** Enabled connections whose next run is due and whose lease is free, oldest due first. */
export async function dueConnections(db: Db, limit: number): Promise<{ tenant_id: string; id: string }[]> {
  return db.query(
    `select tenant_id, id from connections
     where enabled and next_run_at <= clock_timestamp() and (lease_until is null or lease_until < clock_timestamp())
     order by next_run_at limit $1`,
    [limit],
  )
}

/**
 * After a page is stored: counts, `synced_until` of the endpoint (when given) and a renewed lease.
 * False when the lease is no longer ours (the connection was deleted, or the lease lapsed and another
 * instance took it): the run must stop.
 */
export async function recordProgress(
  db: Db,
  p: { tenantId: string; id: string; owner: string; leaseMs: number; pages: number; rows: number; endpoint?: string; syncedUntil?: Date },
): Promise<boolean> {
  const params: unknown[] = [p.tenantId, p.id, p.owner, p.leaseMs, p.pages, p.rows]
  let synced = ''
  if (p.endpoint !== undefined && p.syncedUntil !== undefined) {
    params.push(p.endpoint, p.syncedUntil.toISOString())
    // Only forwards: a re-pull of the lag window starts before what is already synced. ISO strings
    // from toISOString() compare in time order.
    synced = `, synced_until = case when coalesce(synced_until ->> $7::text, '') < $8::text
       then synced_until || jsonb_build_object($7::text, $8::text) else synced_until end`
  }
  // Counts only grow within a run: the lease heartbeat (pull-run.ts holdLease) writes the counts it read
  // when it fired, and on a pool its statement may reach the row after the next page's, which then showed
  // a page less — for good, if the process died before its outcome.
  const rows = await db.query(
    `update connections set lease_until = clock_timestamp() + make_interval(secs => $4::double precision / 1000),
       last_run = last_run || jsonb_build_object('pages', greatest(coalesce((last_run ->> 'pages')::int, 0), $5::int),
         'rows', greatest(coalesce((last_run ->> 'rows')::bigint, 0), $6::bigint))${synced}
     where tenant_id = $1 and id = $2 and lease_owner = $3 returning id`,
    params,
  )
  return rows.length > 0
}

/** Ends the run: its outcome, the next run one interval from now, and the lease released. */
export async function finishRun(
  db: Db,
  p: { tenantId: string; id: string; owner: string; status: 'succeeded' | 'failed'; pages: number; rows: number; error: string | null },
): Promise<void> {
  await db.query(
    `update connections set lease_owner = null, lease_until = null,
       next_run_at = clock_timestamp() + make_interval(mins => interval_minutes),
       last_run = last_run || jsonb_build_object('finished_at', to_jsonb(clock_timestamp()), 'status', $4::text, 'pages', $5::int, 'rows', $6::bigint, 'error', $7::text)
     where tenant_id = $1 and id = $2 and lease_owner = $3`,
    [p.tenantId, p.id, p.owner, p.status, p.pages, p.rows, p.error],
  )
}

/** Releases the leases the statement's WHERE picks as their dead processes', ending a `running` run failed ($1 ORPHANED_RUN). */
const RELEASE_DEAD = `update connections set lease_owner = null, lease_until = null,
  last_run = case when last_run ->> 'status' = 'running'
    then last_run || jsonb_build_object('finished_at', to_jsonb(clock_timestamp()), 'status', 'failed', 'error', $1::text)
    else last_run end`

/** last_run.error of a run found unfinished by endOrphanedRuns or releaseDeadLeases: its process died. */
const ORPHANED_RUN =
  'interrupted: the server stopped mid-run without recording an outcome (killed); pages and rows are those whose progress was recorded, ' +
  'and the next run resumes from synced_until'

/**
 * At the start of the only process on the database (embedded PGlite under DATA_DIR's lock): every lease
 * still held is a run of a process that died without recording its end (SIGKILL, out of memory, power).
 * Its last_run showed `running` and `POST …/sync` answered 409 until the lease lapsed (SYNC_LEASE_MS, five
 * minutes by default) — after a restart, for no run at all. It is ended `failed` now, keeping the pages
 * and rows recorded, and the lease released. Never on PostgreSQL: another instance may hold those leases.
 * Returns each released lease's provider, `ended` when its run was ended here.
 */
export async function endOrphanedRuns(db: Db): Promise<{ provider: string; ended: boolean }[]> {
  return db.query(
    `${RELEASE_DEAD} where lease_owner is not null returning provider, last_run ->> 'error' = $1::text as ended`,
    [ORPHANED_RUN],
  )
}

/**
 * PostgreSQL: releases every lease whose owner names a liveness lock (liveness.ts `liveOwner`) that no
 * session holds — its process died (SIGKILL, out of memory, its host gone) — ending a `running` run
 * `failed` as `endOrphanedRuns` does, instead of letting `POST …/sync` answer 409 until the lease lapses.
 * A lease whose owner names no lock (PGlite's, or one taken while the lock was lost) only lapses. Run at
 * start-up, on every scheduler tick and before a requested run claims. Returns as endOrphanedRuns does.
 */
export async function releaseDeadLeases(db: Db): Promise<{ provider: string; ended: boolean }[]> {
  return db.query(
    `${RELEASE_DEAD} where lease_owner ~ '^live:[0-9]{1,10}/' and not exists (
       select 1 from pg_locks l
       where l.locktype = 'advisory' and l.granted and l.objsubid = 2 and l.classid = $2::int4::oid
         and l.database = (select oid from pg_database where datname = current_database())
         and l.objid::text = substring(lease_owner from '^live:([0-9]+)/'))
     returning provider, last_run ->> 'error' = $1::text as ended`,
    [ORPHANED_RUN, LIVENESS_LOCK_CLASS],
  )
}
