import { sql, type SQL } from 'drizzle-orm'
import type { Db, Row } from '../db/client.js'
import { rowJsonSql, usageReportRows, type UsageRow } from './run-usage.js'
import { assertExactCounts, COUNT_COLUMNS, countRangeError } from './exact-counts.js'
import type { ExportGate } from './export-gate.js'
import type { TenantGate } from './tenant-gate.js'
import { orderBySql, withGroupedSql, type UsageSpec } from './usage-sql.js'

/**
 * Every group of a usage spec as ONE statement, without totals, in the query layer's order, read as it
 * arrives: a server-side cursor on PostgreSQL (fetched in batches inside a read transaction), one query
 * on PGlite (an in-process engine has no wire to stream over). For callers that want all the rows of a
 * range rather than a page of them — the REST mirrors, whose pages are ranges of buckets.
 */

export interface StreamRequest {
  /** Refuse the query (before any row is handed out) when it produces more groups than this. */
  maxGroups: number
  currency: string
  onTooLarge: (groups: number) => Error
  /** Holds one of the tenant's slots until the stream is closed. */
  gate?: TenantGate | undefined
  /**
   * Holds one of the server's export slots while the statement holds its connection: on PostgreSQL until
   * the cursor's last row is fetched (or the stream is closed, or its reader idles past `idleMs`), not
   * while the rows already fetched are still being sent; on PGlite for the one query.
   */
  exportGate?: ExportGate | undefined
  /** Cancels the statement when the client goes away (PostgreSQL). */
  signal?: AbortSignal | undefined
  /** Rows per FETCH (PostgreSQL). */
  batch?: number | undefined
  /** How long the consumer may stop pulling before the cursor is closed (PostgreSQL; default IDLE_MS). */
  idleMs?: number | undefined
}

/** Runs a statement's use of its connection (see `StreamRequest.exportGate`). */
type Holding = <T>(fn: () => Promise<T>) => Promise<T>

/** An opened stream: iterate it to the end, or `return()` it — either closes the cursor. */
export type RowStream = AsyncIterableIterator<UsageRow[]> & { return(): Promise<IteratorResult<UsageRow[]>> }

const BATCH = 2000
/** A consumer that stops pulling for this long loses its cursor (the transaction must not stay open). */
const IDLE_MS = 60_000

/**
 * Opens the stream: the statement has run and its first batch is read when this resolves, so a query
 * over the windows × groups bound (or any database error) is thrown here, before a caller sends anything.
 */
export async function streamUsage(db: Db, spec: UsageSpec, req: StreamRequest): Promise<RowStream> {
  const release = req.gate ? await req.gate.acquire(spec.tenantId) : () => {}
  // The group count and the largest count of any row ride on every row (windows over the whole result;
  // the sort needs all rows anyway), so both bounds are checked before a caller sends anything.
  // Each row as one JSON array (rowJsonSql, as run-usage ships a page): the driver reads one column, not ~60–80.
  const shipped = rowJsonSql(spec)
  const query = sql`${withGroupedSql(spec)}
    select count(*) over () as group_count,
      max(greatest(${sql.raw(COUNT_COLUMNS.map((c) => `coalesce(${c}, 0)`).join(', '))})) over ()::text as max_count,
      ${shipped.sql} as j from grouped
    order by ${orderBySql(spec)} limit ${req.maxGroups + 1}`
  const holding: Holding = (fn) => (req.exportGate ? req.exportGate.run(spec.tenantId, fn) : fn())
  const batches = db.engine === 'postgres'
    ? cursorBatches(db, query, req.batch ?? BATCH, req.signal, req.idleMs ?? IDLE_MS, holding)
    : oneQuery(db, query, req.signal, holding)
  let first: IteratorResult<Row[]>
  try {
    first = await batches.next().catch((err: unknown) => {
      throw countRangeError(err)
    })
    const groups = first.done ? 0 : Number(first.value[0]?.group_count ?? 0)
    if (groups > req.maxGroups) throw req.onTooLarge(groups)
    if (!first.done) assertExactCounts([first.value[0]?.max_count])
  } catch (err) {
    await batches.return(undefined)
    release()
    throw err
  }
  // Views: a field is mapped when the report reads it (row-views.ts `reportRowViews`).
  const mapRow = usageReportRows(spec, shipped.columns, req.currency)
  const toRow = (r: Row) => mapRow(shipped.values(r.j as unknown[]))
  let pending: IteratorResult<Row[]> | undefined = first
  let closed = false
  const close = async () => {
    if (closed) return
    closed = true
    try {
      await batches.return(undefined)
    } finally {
      release()
    }
  }
  const stream: RowStream = {
    [Symbol.asyncIterator]() {
      return stream
    },
    async next() {
      if (closed) return { done: true, value: undefined }
      let r: IteratorResult<Row[]>
      try {
        r = pending ?? (await batches.next())
      } catch (err) {
        await close()
        throw err
      }
      pending = undefined
      if (r.done) {
        await close()
        return { done: true, value: undefined }
      }
      return { done: false, value: r.value.map(toRow) }
    },
    async return() {
      await close()
      return { done: true, value: undefined }
    },
  }
  return stream
}

async function* oneQuery(db: Db, query: SQL, signal: AbortSignal | undefined, holding: Holding): AsyncGenerator<Row[]> {
  const rows = await holding(() => db.query(query, [], { signal }))
  if (rows.length) yield rows
}

/**
 * The rows of `query` through `DECLARE … CURSOR` / `FETCH`, in a read transaction whose callback runs
 * alongside the consumer: each batch is handed over, the next is fetched when it is asked for. The
 * transaction runs inside `holding`, which is left however it ends.
 */
async function* cursorBatches(db: Db, query: SQL, batch: number, signal: AbortSignal | undefined, idleMs: number, holding: Holding): AsyncGenerator<Row[]> {
  type Message = { rows: Row[] } | { done: true } | { error: unknown }
  const inbox: Message[] = []
  let wake: (() => void) | undefined
  let demand: ((go: boolean) => void) | undefined
  let stopped = false
  const post = (m: Message) => {
    inbox.push(m)
    wake?.()
    wake = undefined
  }
  const asked = () =>
    new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), idleMs)
      demand = (go) => {
        clearTimeout(timer)
        resolve(go)
      }
    })
  const answer = (go: boolean) => {
    const d = demand
    demand = undefined
    d?.(go)
  }
  const producer = holding(() =>
    db.transaction(async (tx) => {
      await tx.query('set transaction read only')
      // A cursor is planned for its first 10 % by default (fast-start plans); every row is read here.
      await tx.query('set local cursor_tuple_fraction = 1')
      await tx.query(sql`declare usage_rows no scroll cursor for ${query}`, [], { signal })
      for (;;) {
        const rows = await tx.query(`fetch ${batch} from usage_rows`, [], { signal })
        if (stopped) return
        post({ rows })
        if (rows.length < batch) return
        const go = await asked()
        if (stopped) return
        // Not the end of the rows: a consumer that pulls again after its cursor was closed must fail
        // (a CSV export breaks off) rather than take the rows it never got for the end of the result.
        if (!go) throw new Error(`the reader pulled no rows for ${idleMs} ms; its cursor was closed`)
      }
    }),
  ).then(
    () => post({ done: true }),
    (error: unknown) => post({ error }),
  )
  try {
    for (;;) {
      if (!inbox.length) await new Promise<void>((resolve) => (wake = resolve))
      const m = inbox.shift()!
      if ('error' in m) throw m.error
      if ('done' in m) return
      if (m.rows.length) yield m.rows
      answer(true)
    }
  } finally {
    stopped = true
    answer(false)
    await producer
  }
}
