import { once } from 'node:events'
import { finished } from 'node:stream/promises'
import { PGlite, types as pgliteTypes } from '@electric-sql/pglite'
import type { SQL } from 'drizzle-orm'
import { PgDialect } from 'drizzle-orm/pg-core'
import postgres from 'postgres'

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

export function compile(query: SQL | string, params: unknown[] = []): { text: string; params: unknown[] } {
  if (typeof query === 'string') return { text: query, params }
  const compiled = dialect.sqlToQuery(query)
  return { text: compiled.sql, params: compiled.params }
}

const INT8 = 20
const NUMERIC = 1700

export interface PostgresOptions {
  url: string
  poolSize?: number
  statementTimeoutMs?: number
  onNotice?: (notice: unknown) => void
}

export function createPostgresDb(opts: PostgresOptions): DbClient {
  const make = (max: number) =>
    postgres(opts.url, {
      max,
      onnotice: opts.onNotice ?? (() => {}),
      connect_timeout: 5,
      // JIT off: usage statements are planned for the worst case (the base-table branch a one-time
      // filter then skips, a million-row estimate) and JIT spent 6 s compiling a 90 ms query.
      connection: { jit: 'off', ...(opts.statementTimeoutMs ? { statement_timeout: opts.statementTimeoutMs } : {}) },
      types: {
        int8: { to: INT8, from: [INT8], serialize: (v: unknown) => String(v), parse: (v: string) => Number(v) },
      },
    })
  const sql = make(opts.poolSize ?? 10)

  const wrap = (conn: postgres.Sql | postgres.TransactionSql): Db => ({
    engine: 'postgres',
    async query<T>(query: SQL | string, params?: unknown[], opts?: QueryOptions) {
      const c = compile(query, params)
      const pending = conn.unsafe(c.text, c.params as postgres.ParameterOrJSON<never>[], {
        prepare: opts?.prepare ?? false,
      })
      const signal = opts?.signal
      if (!signal) return (await pending) as unknown as T[]
      const cancel = () => void pending.cancel()
      if (signal.aborted) cancel()
      else signal.addEventListener('abort', cancel, { once: true })
      try {
        return (await pending) as unknown as T[]
      } finally {
        signal.removeEventListener('abort', cancel)
      }
    },
    async copyIn(table: string, columns: readonly string[]): Promise<CopyWriter> {
      const ident = (name: string) => `"${name.replace(/"/g, '""')}"`
      const stream = await conn.unsafe(`copy ${ident(table)} (${columns.map(ident).join(', ')}) from stdin`).writable()
      let failure: unknown
      const done = finished(stream).then(
        () => undefined,
        (err: unknown) => void (failure ??= err),
      )
      return {
        async write(text) {
          if (failure === undefined && !stream.write(text)) await Promise.race([once(stream, 'drain').catch(() => undefined), done])
          if (failure !== undefined) throw failure
        },
        async end() {
          stream.end()
          await done
          if (failure !== undefined) throw failure
        },
      }
    },
    async transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
      if ('savepoint' in conn) return (conn as postgres.TransactionSql).savepoint((tx) => fn(wrap(tx))) as Promise<T>
      return (conn as postgres.Sql).begin((tx) => fn(wrap(tx))) as Promise<T>
    },
  })

  return {
    ...wrap(sql),
    async close() {
      await sql.end({ timeout: 5 })
    },
    async dedicated(fn) {
      // max: 1 keeps every statement (and a session advisory lock) on one connection.
      const one = make(1)
      try {
        return await fn(wrap(one))
      } finally {
        await one.end({ timeout: 5 })
      }
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
    async query<T>(query: SQL | string, params?: unknown[]) {
      const c = compile(query, params)
      const res = await conn.query<T>(c.text, c.params)
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
