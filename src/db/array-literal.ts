import { sql, type SQL } from 'drizzle-orm'

/**
 * A column of a set-based write as one PostgreSQL array literal (`{"a",NULL,"b"}`), sent as a single
 * text parameter and cast in SQL to the column's array type (`$1::int8[]`).
 *
 * postgres.js would otherwise serialise a JS array element by element after describing the statement
 * (two regular-expression replaces and a closure per element): for a 1,000-row bucket chunk, 31
 * columns, that was 14 ms of a request's ~35 ms of CPU (docs/performance.md, "Ingest, round 13").
 * Every element is quoted, so any text (commas, braces, spaces, the word NULL) is taken verbatim;
 * inside quotes only a backslash and a double quote need escaping.
 */
const SPECIAL = /[\\"]/
const SPECIALS = /[\\"]/g

export function arrayLiteral(values: readonly (string | null)[]): string {
  let out = '{'
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!
    if (i > 0) out += ','
    out += v === null ? 'NULL' : SPECIAL.test(v) ? `"${v.replace(SPECIALS, '\\$&')}"` : `"${v}"`
  }
  return `${out}}`
}

/** `values` as one parameter of an array type, e.g. `arrayParam(ids, 'int8[]')`. */
export const arrayParam = (values: readonly (string | null)[], arrayType: string): SQL => sql`${sql.param(arrayLiteral(values))}::${sql.raw(arrayType)}`
