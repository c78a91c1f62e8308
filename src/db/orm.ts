import { sql, type SQL, type SQLWrapper } from 'drizzle-orm'
import { DrizzleQueryError } from 'drizzle-orm/errors'
import { drizzle, type PgRemoteDatabase } from 'drizzle-orm/pg-proxy'
import type { Db } from './client.js'

const instances = new WeakMap<Db, PgRemoteDatabase>()

function instance(db: Db): PgRemoteDatabase {
  let d = instances.get(db)
  if (!d) {
    d = drizzle(async (text, params, method) => ({
      rows: await db.query(text, params, method === 'all' ? { rowMode: 'array' } : {}),
    }))
    instances.set(db, d)
  }
  return d
}

/**
 * Runs one statement written with drizzle's typed query builder on the tables of src/db/schema.ts,
 * through `db`: the pool's admission gate, its transaction (pass `tx` as `db`) and the engine's type
 * parsers, so rows have the same JS types on PGlite and PostgreSQL (int8 → number, numeric → decimal
 * string, timestamptz → Date). drizzle's own postgres-js and pglite drivers would each bypass that one
 * data-access surface; the proxy driver only asks `db` for the rows (as arrays for selects and
 * `returning`, which drizzle maps to the columns' properties).
 *
 * drizzle wraps a failed statement in a DrizzleQueryError whose message carries the SQL and its
 * parameters (key hashes, sealed secrets); the driver's own error is rethrown instead, so SQLSTATE
 * checks (unique violation → 409, connection lost → 503) and the logs stay as with `db.query`.
 *
 * Plain single-table CRUD uses this; aggregations and special upserts stay `sql` (docs/consistency.md).
 */
export async function orm<T>(db: Db, statement: (d: PgRemoteDatabase) => PromiseLike<T>): Promise<T> {
  try {
    return await statement(instance(db))
  } catch (err) {
    throw err instanceof DrizzleQueryError && err.cause !== undefined ? err.cause : err
  }
}

/**
 * `column` ordered by code point (`collate "C"`), for the lists users read: a text column's own collation
 * is the database's default — C on PGlite, but en_US (libc or ICU) on many PostgreSQL clusters, where `a`
 * sorts before `B` and `-`, `_` and `.` are nearly ignored (`a_x` before `a-x`) — so the same rows were
 * listed in another order per engine and installation. For the names and ids stored here (ASCII) it is
 * ASCII order: `-` and `.` before digits, digits before upper case, upper case before `_`, `_` before lower case.
 */
export const inCodePointOrder = (column: SQLWrapper): SQL => sql`${column} collate "C"`
