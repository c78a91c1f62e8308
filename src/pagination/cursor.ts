import { createHash } from 'node:crypto'
import { UsageInputError } from '../errors.js'
import { MAX_UNIX_SECONDS } from '../time/instant.js'

/**
 * The one cursor codec (GraphQL `after` and the REST mirrors' `page`). A cursor is opaque base64url JSON
 * bound to the query it came from by `queryHash`. The hash is not a secret (anyone can compute it), so
 * decoders must still check every field they read: see `isInstantMs`.
 */

/**
 * Identifies a query apart from its page arguments, so a cursor cannot be replayed on another query.
 * Objects are hashed with their keys sorted: the same arguments arrive in different key orders (GraphQL
 * arguments as graphql-js coerces them on a query's first request, as graphql-jit does from its second),
 * and a cursor of the first page was refused on the second.
 */
export function queryHash(args: Record<string, unknown>, pageKeys: readonly string[]): string {
  const rest = Object.fromEntries(Object.entries(args).filter(([k]) => !pageKeys.includes(k)))
  return createHash('sha256').update(JSON.stringify(rest, sortedKeys)).digest('base64url').slice(0, 16)
}

/** A JSON.stringify replacer writing every plain object's keys in sorted order (arrays keep theirs). */
function sortedKeys(_key: string, value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value
  return Object.fromEntries(Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
}

export function encodeCursor(fields: Record<string, number | string>, prefix = ''): string {
  return `${prefix}${Buffer.from(JSON.stringify(fields)).toString('base64url')}`
}

/** The decoded fields, or undefined when the text is not one of our cursors (unchecked values). */
export function decodeCursor(text: string, prefix = ''): Record<string, unknown> | undefined {
  if (!text.startsWith(prefix)) return undefined
  try {
    const v: unknown = JSON.parse(Buffer.from(text.slice(prefix.length), 'base64url').toString('utf8'))
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined
  } catch {
    return undefined
  }
}

/** A non-negative safe integer that, times `unit` milliseconds, is an instant a Date can hold. */
export const isInstantMs = (v: unknown, unit = 1): v is number =>
  Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) * unit <= MAX_UNIX_SECONDS * 1000

/**
 * A cursor's key field: the sort key of the last row listed (keyset paging), as JSON text of an array.
 * Its elements are client input: each pager checks them against its own key's types before use.
 */
export const encodeKey = (key: readonly unknown[]): string => JSON.stringify(key)

/** The key's elements, or undefined when the field is not a JSON array. */
export function decodeKey(v: unknown): unknown[] | undefined {
  if (typeof v !== 'string') return undefined
  try {
    const k: unknown = JSON.parse(v)
    return Array.isArray(k) ? k : undefined
  } catch {
    return undefined
  }
}

/** The one answer to a cursor that is not valid for the query it is sent with. */
export const badCursor = () => new UsageInputError('after', 'the cursor is not valid for this query; start again without `after`')
