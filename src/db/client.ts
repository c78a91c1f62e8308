import { once } from 'node:events'
import type { Writable } from 'node:stream'
import { PGlite, types as pgliteTypes } from '@electric-sql/pglite'
import type { SQL } from 'drizzle-orm'
import { PgDialect } from 'drizzle-orm/pg-core'
import postgres from 'postgres'
import { AcquireTimeoutError, isConnectionError } from './errors.js'
import { createGate } from './gate.js'
import { createSocketWatch } from './response-deadline.js'

export type Row = Record<string, unknown>
export type Engine = 'pglite' | 'postgres'

/**
 * `prepare: true` (PostgreSQL) keeps the statement prepared per connection: worth it only for a
 * fixed, hot statement text (event ingest plans a large statement on every request otherwise).
 * Dynamic SQL must not use it — every distinct text would stay cached on every connection.
 */
export interface QueryOptions {
  prepare?: boolean
  /**
   * PostgreSQL: cancel the statement on the server (a cancel request, as pg_cancel_backend) when this
   * aborts — a client that went away should not keep a connection busy. PGlite cannot interrupt a
   * running statement; it ignores the signal.
   */
  signal?: AbortSignal | undefined
  /** `array`: each row as an array of its values in column order (drizzle's builder maps them, src/db/orm.ts). */
  rowMode?: 'array'
}

/**
 * The one data-access surface both engines share. Queries are drizzle `sql` templates (bound
 * parameters) or plain text with positional parameters; results come back with the same JS types on
 * both engines: int8 → number, numeric → string (exact), timestamptz → Date.
 */
export interface Db {
  readonly engine: Engine
  query<T = Row>(query: SQL | string, params?: unknown[], opts?: QueryOptions): Promise<T[]>
  transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T>
  /**
   * PostgreSQL only: `COPY table (columns) FROM STDIN` in text format, streamed. PGlite has no
   * streaming COPY, so callers keep a batched-insert path for when this is absent.
   */
  copyIn?(table: string, columns: readonly string[]): Promise<CopyWriter>
}

/** A COPY in progress: `write` resolves once the data is handed on (back-pressure); always `end` it. */
export interface CopyWriter {
  write(text: string): Promise<void>
  /** Finishes the COPY; rejects with the server's error. */
  end(): Promise<void>
}

export interface DbClient extends Db {
  close(): Promise<void>
  /** A separate single connection for work that must not share the pool (migrations under a lock). */
  dedicated<T>(fn: (db: Db) => Promise<T>): Promise<T>
}

const dialect = new PgDialect()

/** What postgres.js answers for a cancelled statement (query_canceled), for one never sent. */
function cancelledByClient(): Error {
  return Object.assign(new Error('canceling statement due to user request'), { code: '57014' })
}

function compile(query: SQL | string, params: unknown[] = []): { text: string; params: unknown[] } {
  if (typeof query === 'string') return { text: query, params }
  const compiled = dialect.sqlToQuery(query)
  return { text: compiled.sql, params: compiled.params }
}

const INT8 = 20
const JSON_OID = 114
const JSONB_OID = 3802
const NUMERIC = 1700

export interface PostgresOptions {
  url: string
  poolSize?: number
  statementTimeoutMs?: number
  /**
   * work_mem of every connection (a PostgreSQL memory size such as `64MB`; absent: the server's). The
   * usage statement hash-aggregates a rollup's rows in memory when the planner expects them to fit;
   * at the default 4MB it sorted them on disk instead, about twice as slow (docs/performance.md).
   */
  workMem?: string
  /** How long establishing a connection may take before the attempt fails (→ 503). */
  connectTimeoutMs?: number
  /** How long a query or transaction may wait for a free pooled connection before it fails (→ 503). */
  acquireTimeoutMs?: number
  /**
   * A pooled connection that sent a request and heard nothing back for this long is closed
   * (src/db/response-deadline.ts); set it above statementTimeoutMs. Absent: no deadline.
   */
  responseTimeoutMs?: number
  /** Called when a connection is closed for want of an answer (the statements on it end in 503). */
  onNoResponse?: () => void
  onNotice?: (notice: unknown) => void
}

export function createPostgresDb(opts: PostgresOptions): DbClient {
  const watch = opts.responseTimeoutMs ? createSocketWatch(opts.responseTimeoutMs, opts.onNoResponse) : undefined
  const make = (max: number, watched: boolean) =>
    postgres(opts.url, {
      max,
      // The array types are fetched by arrayTypes() below, through a statement whose failure is handled.
      fetch_types: false,
      ...(watched && watch ? { socket: watch.socket } : {}),
      onnotice: opts.onNotice ?? (() => {}),
      connect_timeout: (opts.connectTimeoutMs ?? 2_000) / 1000,
      // postgres.js delays each reconnect by 0.5–1 × min(3^failures / 100, 20) s: after a short outage
      // a request waited up to 20 s for a connection attempt (the 7–15 s hangs, ~5 s recovery lag). A
      // refused connection costs little; retry at once, at most 0.2 s apart.
      backoff: (retries: number) => Math.min(0.01 * 2 ** retries, 0.2),
      // JIT off: usage statements are planned for the worst case (the base-table branch a one-time
      // filter then skips, a million-row estimate) and JIT spent 6 s compiling a 90 ms query.
      // DateStyle ISO: postgres.js parses timestamptz text as ISO; under a database's 'SQL, DMY' (or German,
      // Postgres) every timestamp read was an Invalid Date (test/db/session-settings.test.ts).
      connection: {
        jit: 'off',
        DateStyle: 'ISO, MDY',
        ...(opts.statementTimeoutMs ? { statement_timeout: opts.statementTimeoutMs } : {}),
        ...(opts.workMem ? { work_mem: opts.workMem } : {}),
      },
      types: {
        int8: { to: INT8, from: [INT8], serialize: (v: unknown) => String(v), parse: (v: string) => Number(v) },
        // A json/jsonb parameter given as a string is JSON text already, as PGlite takes it; postgres.js
        // would encode it again (a jsonb string scalar). drizzle's jsonb columns hand the driver such
        // text, so without this the typed builder stored `["a"]` as the string "[\"a\"]" on PostgreSQL.
        json: { to: JSON_OID, from: [JSON_OID, JSONB_OID], serialize: (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v)), parse: (v: string) => JSON.parse(v) as unknown },
      },
    })
  const poolSize = opts.poolSize ?? 10
  const sql = make(poolSize, true)
  const types = arrayTypes(sql)
  // The pool's admission: at most poolSize operations (a query, or a whole transaction) hold a
  // connection, the rest wait in arrival order. postgres.js itself queues without a bound: with every
  // connection taken (long queries, a hung network) requests waited for ever instead of answering 503.
  const acquireTimeoutMs = opts.acquireTimeoutMs ?? 5_000
  const gate = createGate({ size: poolSize, maxWaitMs: acquireTimeoutMs, onTimeout: () => new AcquireTimeoutError(acquireTimeoutMs) })

  const wrap = (conn: postgres.Sql | postgres.TransactionSql, guard?: TxGuard): Db => ({
    engine: 'postgres',
    async query<T>(query: SQL | string, params?: unknown[], opts?: QueryOptions) {
      const c = compile(query, params)
      guard?.check()
      const signal = opts?.signal
      // Refused before postgres.js sees it: a query cancelled before it is sent is skipped by
      // postgres.js (3.4.9), which still marks its connection busy — waiting for a reply that never
      // comes. A request whose client had left lost a pooled connection for good, or held its
      // transaction open (the CSV exports open each chunk's cursor after the client may have gone).
      if (signal?.aborted) throw cancelledByClient()
      const statement = conn.unsafe(c.text, c.params as postgres.ParameterOrJSON<never>[], {
        prepare: opts?.prepare ?? false,
      })
      const pending = opts?.rowMode === 'array' ? statement.values() : statement
      const cancel = () => cancelQuietly(pending)
      signal?.addEventListener('abort', cancel, { once: true })
      try {
        return (await pending) as unknown as T[]
      } catch (err) {
        guard?.observe(err)
        throw err
      } finally {
        signal?.removeEventListener('abort', cancel)
      }
    },
    async copyIn(table: string, columns: readonly string[]): Promise<CopyWriter> {
      const ident = (name: string) => `"${name.replace(/"/g, '""')}"`
      guard?.check()
      const writer = await copyWriter(conn.unsafe(`copy ${ident(table)} (${columns.map(ident).join(', ')}) from stdin`)).catch(
        (err: unknown) => {
          guard?.observe(err)
          throw err
        },
      )
      if (!guard) return writer
      const observed = <A extends unknown[]>(f: (...a: A) => Promise<void>) => (...a: A) =>
        f(...a).catch((err: unknown) => {
          guard.observe(err)
          throw err
        })
      return { write: observed(writer.write), end: observed(writer.end) }
    },
    async transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
      if (guard) return guard.run(fn, (body) => (conn as postgres.TransactionSql).savepoint(body) as Promise<T>)
      const outer = createTxGuard()
      return outer.run(fn, (body) => (conn as postgres.Sql).begin(body) as Promise<T>)
    },
  })

  /**
   * Keeps a transaction whose connection was lost from touching that connection again. postgres.js
   * (3.4.9) sends ROLLBACK — or the transaction's next statement — on a connection it has already
   * closed: the write is scheduled for the next turn and then dereferences the dropped socket
   * (`Cannot read properties of null (reading 'write')`, connection.js:255; porsager/postgres#1154),
   * thrown from a timer, which killed the process. Once a connection error is seen, the transaction
   * answers with it at once, refuses further statements, and its body never settles inside
   * postgres.js, so no ROLLBACK or COMMIT is sent on the dead connection (PostgreSQL rolls back a
   * transaction whose session ended).
   */
  type TxGuard = ReturnType<typeof createTxGuard>
  function createTxGuard() {
    let lost: unknown
    let onLost!: (err: unknown) => void
    const lostSignal = new Promise<never>((_resolve, reject) => { onLost = reject })
    lostSignal.catch(() => {})
    const guard = {
      check() {
        if (lost !== undefined) throw lost
      },
      observe(err: unknown) {
        if (lost !== undefined || !isConnectionError(err)) return
        lost = err
        onLost(err)
      },
      run<T>(fn: (tx: Db) => Promise<T>, open: (body: (tx: postgres.TransactionSql) => Promise<T>) => Promise<T>): Promise<T> {
        // A fresh never-settling promise per use: nothing keeps it (or the body) alive once dropped.
        const hold = () => new Promise<never>(() => {})
        const body = (tx: postgres.TransactionSql) =>
          fn(wrap(tx, guard)).then(
            (value) => (lost === undefined ? value : hold()),
            (err: unknown) => {
              guard.observe(err)
              if (lost !== undefined) return hold()
              throw err
            },
          )
        const settled = open(body)
        // postgres.js rejects the transaction when its connection closes, even with no statement in
        // flight: from then on the body must not send one.
        settled.catch((err: unknown) => guard.observe(err))
        return Promise.race([settled, lostSignal])
      },
    }
    return guard
  }

  const pooled = wrap(sql)
  return {
    engine: 'postgres',
    query: (query, params, queryOpts) => gate.run(async () => {
      await types.ready()
      return pooled.query(query, params, queryOpts)
    }),
    transaction: (fn) => gate.run(async () => {
      await types.ready()
      return pooled.transaction(fn)
    }),
    async copyIn(table, columns) {
      const done = await gate.acquire()
      try {
        await types.ready()
        const writer = await pooled.copyIn!(table, columns)
        return { write: writer.write, end: () => writer.end().finally(done) }
      } catch (err) {
        done()
        throw err
      }
    },
    async close() {
      await sql.end({ timeout: 5 })
      watch?.close()
    },
    async dedicated(fn) {
      // max: 1 keeps every statement (and a session advisory lock) on one connection. Not watched for
      // a response deadline: migrations and the rollup backfill may run for minutes without a reply.
      await types.ready()
      const one = make(1, false)
      types.lend(one)
      try {
        return await fn(wrap(one))
      } finally {
        await one.end({ timeout: 5 })
      }
    },
  }
}

/** The part of postgres.js's (3.4.9) options object that holds the array types. */
interface DriverTypes {
  parsers: Record<number, ((x: string) => unknown) & { array?: boolean }>
  serializers: Record<number, (x: unknown) => unknown>
  shared: { typeArrayMap: Record<number, number> }
}

/** postgres.js's own array text codecs (src/types.js), which its `fetch_types` would install. */
interface DriverArrayCodecs {
  arrayParser: (x: string, parser: ((x: string) => unknown) | undefined, typarray: number) => unknown
  arraySerializer: (xs: unknown, serializer: ((x: unknown) => unknown) | undefined, options: unknown, typarray: number) => unknown
}

// What postgres.js's fetchArrayTypes asks: each element type and its array type.
const ARRAY_TYPES = `select b.oid, b.typarray from pg_catalog.pg_type a left join pg_catalog.pg_type b on b.oid = a.typelem
  where a.typcategory = 'A' group by b.oid, b.typarray order by b.oid`

/**
 * The array types, fetched once per client through a statement of ours. postgres.js (3.4.9) with
 * `fetch_types` on runs its fetch as the first statement of every connection it opens and drops that
 * promise (connection.js `ReadyForQuery`; porsager/postgres#1192, #1205, #1223): a connection lost during
 * it — a database restart, a network cut while the pool reconnects, at start-up — was an unhandled
 * rejection, which ends the process (close-with-grace). So every client runs with `fetch_types` off, and
 * before its first operation fetches the same rows itself and installs the driver's own array codecs for
 * them, as its fetch would (`addArrayType`): a failure rejects that operation like any other statement's,
 * and the next operation tries again. Turning the types off outright was not an option: `$n::text[]`
 * parameters need them (porsager/postgres#903). A dedicated client starts with the pool's types.
 */
function arrayTypes(pool: postgres.Sql) {
  const of = (sql: postgres.Sql) => sql.options as unknown as DriverTypes
  let known = false
  let loading: Promise<void> | undefined
  const load = async () => {
    const { arrayParser, arraySerializer } = (await import(new URL('./types.js', import.meta.resolve('postgres')).href)) as DriverArrayCodecs
    const rows = await pool.unsafe<{ oid: number; typarray: number }[]>(ARRAY_TYPES)
    const options = of(pool)
    for (const { oid, typarray } of rows) {
      if (options.parsers[typarray] && options.serializers[typarray]) continue
      const parser = options.parsers[oid]
      options.shared.typeArrayMap[oid] = typarray
      options.parsers[typarray] = Object.assign((xs: string) => arrayParser(xs, parser, typarray), { array: true })
      options.serializers[typarray] = (xs: unknown) => arraySerializer(xs, options.serializers[oid], options, typarray)
    }
    known = true
  }
  return {
    /** Resolves once the types are installed; one fetch at a time, again after a failed one. */
    ready(): Promise<void> | void {
      if (known) return
      loading ??= load().finally(() => { loading = undefined })
      return loading
    },
    lend(sql: postgres.Sql) {
      const [from, to] = [of(pool), of(sql)]
      Object.assign(to.shared.typeArrayMap, from.shared.typeArrayMap)
      for (const oid of Object.values(from.shared.typeArrayMap)) {
        to.parsers[oid] = from.parsers[oid]!
        to.serializers[oid] = from.serializers[oid]!
      }
    },
  }
}

/**
 * Cancels a statement as postgres.js's `query.cancel()` does, keeping the outcome. The cancel request
 * goes over a new connection; `cancel()` (3.4.9, src/query.js) drops the promise of that attempt, so when
 * no connection can be made — the database unreachable while a client leaves — it rejected unobserved:
 * an unhandled rejection, which ends a Node process (found in the fresh-clone CI). The statement then
 * ends with its own connection; a cancel that cannot be sent changes nothing.
 */
function cancelQuietly(query: object): void {
  const q = query as { canceller?: ((q: object) => Promise<unknown>) | null }
  const canceller = q.canceller
  if (!canceller) return
  q.canceller = null
  canceller(query).catch(() => {})
}

/**
 * A COPY … FROM STDIN whose every outcome settles `write` and `end`. postgres.js 3.4.9 reports a
 * COPY's failure only to the query object, which has already resolved to the stream
 * (porsager/postgres#1173): when PostgreSQL rejects the data (a NUL byte, a date out of range) the
 * stream never finishes, so awaiting it hung the request forever with its transaction open ("idle in
 * transaction (aborted)") and its connection lost to the pool. The failure is taken where postgres.js
 * delivers it — the query's `reject`, or the stream's `error` when the connection drops.
 */
async function copyWriter(query: postgres.PendingQuery<postgres.Row[]>): Promise<CopyWriter> {
  let failure: unknown
  let fail!: (err: unknown) => void
  const failed = new Promise<never>((_resolve, reject) => { fail = reject })
  failed.catch(() => {})
  const record = (err: unknown) => {
    if (failure !== undefined) return
    failure = err ?? new Error('COPY failed')
    fail(failure)
  }
  const settle = query as unknown as { reject: (err: unknown) => void }
  const reject = settle.reject
  settle.reject = (err) => {
    record(err)
    reject(err)
  }
  const stream = (await query.writable()) as Writable
  stream.on('error', record)
  // postgres.js destroys the stream when the connection closes, after it has dropped its socket; its
  // _destroy then writes CopyFail to `null` and throws from the socket's close handler, which took the
  // process down. The callback has run by then; there is no server left to tell.
  const destroy = stream._destroy.bind(stream)
  stream._destroy = (err, callback) => {
    try {
      destroy(err, callback)
    } catch {
      // the connection is gone: nothing to send
    }
  }
  return {
    async write(text) {
      if (failure !== undefined) throw failure
      if (!stream.write(text)) await Promise.race([once(stream, 'drain'), failed])
    },
    async end() {
      if (failure === undefined) {
        stream.end()
        await Promise.race([once(stream, 'finish'), failed])
      }
      if (failure !== undefined) throw failure
    },
  }
}

export interface PgliteOptions {
  /** A directory, or `memory://`. */
  dataDir: string
  /** A migrated data directory dump to start from (tests). */
  loadDataDir?: Blob
}

export interface PgliteClient extends DbClient {
  /** The data directory as a gzipped tarball (a migrated template for tests). */
  dump(): Promise<Blob>
}

export async function createPgliteDb(opts: PgliteOptions): Promise<PgliteClient> {
  const pg = await PGlite.create({
    dataDir: opts.dataDir,
    ...(opts.loadDataDir ? { loadDataDir: opts.loadDataDir } : {}),
    parsers: {
      [INT8]: (v: string) => Number(v),
      [NUMERIC]: (v: string) => v,
      [pgliteTypes.TIMESTAMPTZ]: (v: string) => new Date(v),
    },
  })
  // PGlite runs one statement at a time; a transaction holds it exclusively, so nested work inside
  // a transaction must use the transaction object, never the pool.
  type Queryable = Pick<PGlite, 'query'>
  const wrap = (conn: Queryable, inTx: boolean): Db => ({
    engine: 'pglite',
    async query<T>(query: SQL | string, params?: unknown[], opts?: QueryOptions) {
      const c = compile(query, params)
      const res = await conn.query<T>(c.text, c.params, opts?.rowMode === 'array' ? { rowMode: 'array' } : undefined)
      return res.rows
    },
    async transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
      if (inTx) {
        const name = `sp_${Math.random().toString(36).slice(2)}`
        await conn.query(`savepoint ${name}`)
        try {
          const out = await fn(wrap(conn, true))
          await conn.query(`release savepoint ${name}`)
          return out
        } catch (err) {
          await conn.query(`rollback to savepoint ${name}`)
          throw err
        }
      }
      return pg.transaction((tx) => fn(wrap(tx, true)))
    },
  })
  const root = wrap(pg, false)
  return {
    ...root,
    async close() {
      if (!pg.closed) await pg.close()
    },
    async dedicated(fn) {
      return fn(root)
    },
    async dump() {
      return pg.dumpDataDir('gzip')
    },
  }
}
