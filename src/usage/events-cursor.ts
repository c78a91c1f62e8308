import { sql, type SQL } from 'drizzle-orm'
import { badCursor, decodeCursor, decodeKey, encodeCursor, encodeKey, isInstantMs } from '../pagination/cursor.js'
import { SIGNED_PLAIN_DECIMAL } from '../decimal/decimal-text.js'
import { inCodePointOrder } from '../db/orm.js'

/**
 * The order and the cursors of `events` pages. A cursor holds the query's hash, the first page's instant
 * (`asOf`: every page lists events received by then, priced as of then) and the sort key of the last row
 * listed: the next page starts after that row (keyset), not at an offset. An event's `received_at` is its
 * writing transaction's start, so a write that began before the first page and committed after it has
 * `received_at <= asOf` and appears from the second page on: with offsets, newest first, it pushed a row
 * of page 1 onto page 2 (listed twice). With a key it is listed once if it sorts after the page it
 * arrived behind, else not at all; no other row moves.
 */
export type EventOrder = 'TIME_DESC' | 'TIME_ASC' | 'COST_DESC'

const UNPRICED = `(unpriced_tokens > 0 or unpriced_quantity <> '[]'::jsonb)`

/**
 * An event's id (the client's idempotency key) as it is ordered and compared: by code point, whatever the
 * database's collation (inCodePointOrder's `collate "C"`). By the column's collation, events of one
 * timestamp were listed in another order on an en-US database (`a` before `B`, `a_b` before `a0`).
 * The rows are sorted over the priced events, never read in an index's order, so this costs no index.
 */
const ID = inCodePointOrder(sql.raw('id'))

/** ORDER BY of each order (over the priced events); unpriced events sort last under COST_DESC. */
export const EVENT_ORDER_SQL: Record<EventOrder, SQL> = {
  TIME_DESC: sql`timestamp desc, ${ID} desc`,
  TIME_ASC: sql`timestamp asc, ${ID} asc`,
  COST_DESC: sql`${sql.raw(UNPRICED)} asc, cost_total desc, timestamp desc, ${ID} desc`,
}

/** The sort key columns the rows statement selects beside each row: exact text, the time to the microsecond. */
export const EVENT_KEY_COLUMNS = `to_char(timestamp at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as k_time,
  ${UNPRICED} as k_unpriced, cost_total::text as k_cost`

/** Where a page ended: [time, id]; under COST_DESC [unpriced, cost, time, id]. */
export type EventKey = [time: string, id: string] | [unpriced: boolean, cost: string, time: string, id: string]

export function keyOf(order: EventOrder, row: { id: string; k_time: string; k_unpriced: boolean; k_cost: string }): EventKey {
  return order === 'COST_DESC' ? [row.k_unpriced, row.k_cost, row.k_time, row.id] : [row.k_time, row.id]
}

/** The rows after `key` in `order` (the id compared by code point, as ORDER BY orders it). */
export function afterKey(order: EventOrder, key: EventKey): SQL {
  const time = (k: EventKey) => sql`${k[k.length - 2] as string}::timestamptz`
  const id = (k: EventKey) => sql`${k[k.length - 1] as string}::text`
  const row = sql`(timestamp, ${ID})`
  if (order === 'TIME_ASC') return sql`${row} > (${time(key)}, ${id(key)})`
  if (order === 'TIME_DESC') return sql`${row} < (${time(key)}, ${id(key)})`
  const [unpriced, cost] = key as [boolean, string, string, string]
  const u = sql.raw(UNPRICED)
  return sql`((${u} and not ${unpriced}::boolean) or (${u} = ${unpriced}::boolean and (cost_total < ${cost}::numeric
    or (cost_total = ${cost}::numeric and ${row} < (${time(key)}, ${id(key)})))))`
}

export function encodeEventsCursor(hash: string, asOf: Date, key?: EventKey): string {
  return encodeCursor({ h: hash, a: asOf.getTime(), ...(key ? { k: encodeKey(key) } : {}) })
}

const TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/
/**
 * The longest cost text a key may hold. A cost is exact: quantity (≤ 100 characters) × unit price (≤ 40)
 * has up to 140 digits on either side of the point, so the 60 digits a side taken before refused the
 * cursors of finely priced resources. A bound still keeps a forged key small.
 */
const MAX_COST_TEXT = 1000
const isCost = (v: unknown): v is string => typeof v === 'string' && v.length <= MAX_COST_TEXT && SIGNED_PLAIN_DECIMAL.test(v)
// A forged key must still be values PostgreSQL takes: a real instant, no NUL, a bounded decimal. Year
// 0000 is a Date (1 BC) but no timestamptz.
const isTime = (v: unknown): v is string =>
  typeof v === 'string' && TIME.test(v) && !v.startsWith('0000') && new Date(`${v.slice(0, 23)}Z`).toISOString() === `${v.slice(0, 23)}Z`
const isId = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 10_000 && !v.includes('\u0000')

function parseKey(text: unknown, order: EventOrder): EventKey | undefined {
  const k = decodeKey(text)
  if (!k) return undefined
  if (order !== 'COST_DESC') return k.length === 2 && isTime(k[0]) && isId(k[1]) ? [k[0], k[1]] : undefined
  return k.length === 4 && typeof k[0] === 'boolean' && isCost(k[1]) && isTime(k[2]) && isId(k[3])
    ? [k[0], k[1], k[2], k[3]]
    : undefined
}

/** The cursor's instant and key, when it belongs to the query of `hash`; a 400 otherwise. */
export function decodeEventsCursor(text: string, hash: string, order: EventOrder): { asOf: Date; key?: EventKey } {
  const v = decodeCursor(text)
  const key = v?.k === undefined ? undefined : parseKey(v.k, order)
  if (v && v.h === hash && isInstantMs(v.a) && (v.k === undefined || key)) return { asOf: new Date(v.a), ...(key ? { key } : {}) }
  throw badCursor()
}
