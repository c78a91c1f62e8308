/**
 * The one instant parser (contract v2 "Times"). Every entry point that takes a point in time — bucket
 * start/end (JSON, pages, CSV), event timestamps, GraphQL DateTime, REST parameters, rate-card times —
 * calls `parseInstant`, so an input is accepted or refused the same way everywhere.
 *
 * Accepted: RFC 3339 `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` naming a real calendar date and time
 * (no 02-30, no 24:00, no :60, no space separator), years 1970–9999; or unix seconds written as digits
 * only, as a JSON integer or a digit string, 0–253402300799. Date.parse is never used: it rolls
 * 2025-02-30 over to March 2nd and accepts forms the contract refuses.
 */

export type InstantResult = { ok: true; ms: number } | { ok: false; message: string }

/** 9999-12-31T23:59:59Z, the last second both RFC 3339 and every entry point can represent. */
export const MAX_UNIX_SECONDS = 253_402_300_799

/** Milliseconds in a UTC hour and a UTC day (a UTC day never has a leap second in JS time). */
export const HOUR_MS = 3_600_000
export const DAY_MS = 86_400_000

export const INSTANT_FORMAT = 'an RFC 3339 date-time such as "2025-10-01T00:00:00Z" or unix seconds (0–253402300799)'

// T and Z may be lower case (RFC 3339 §5.6). A fraction has any number of digits (§5.6 `time-secfrac`), of
// which the first three count (milliseconds). The length guard keeps a pathological input from reaching
// the regex and the error message.
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/
const DIGITS = /^\d{1,12}$/
const MAX_TEXT = 64

const fail = (message: string): InstantResult => ({ ok: false, message })
const shown = (v: string) => JSON.stringify(v.length > MAX_TEXT ? `${v.slice(0, MAX_TEXT)}…` : v)

function fromSeconds(seconds: number, written: string): InstantResult {
  if (seconds > MAX_UNIX_SECONDS) return fail(`unix seconds must be at most ${MAX_UNIX_SECONDS} (9999-12-31T23:59:59Z); got ${written}`)
  return { ok: true, ms: seconds * 1000 }
}

function fromText(v: string): InstantResult {
  if (DIGITS.test(v)) return fromSeconds(Number(v), v)
  const m = v.length <= MAX_TEXT ? RFC3339.exec(v) : null
  if (!m) return fail(`must be ${INSTANT_FORMAT}; got ${shown(v)}`)
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number]
  if (y < 1970) return fail(`years before 1970 are not accepted; got ${shown(v)}`)
  if (mo < 1 || mo > 12) return fail(`${shown(v)} has no month ${m[2]}`)
  const daysInMonth = new Date(Date.UTC(y, mo, 0)).getUTCDate()
  if (d < 1 || d > daysInMonth) return fail(`${shown(v)} is not a calendar date (${m[1]}-${m[2]} has ${daysInMonth} days)`)
  if (h > 23 || mi > 59 || s > 59) return fail(`${shown(v)} is not a time of day (00:00:00–23:59:59)`)
  const offH = m[9] ? Number(m[9]) : 0
  const offM = m[10] ? Number(m[10]) : 0
  if (offH > 23 || offM > 59) return fail(`${shown(v)} has an impossible UTC offset`)
  const fractionMs = m[7] ? Number(m[7].slice(0, 3).padEnd(3, '0')) : 0
  const sign = m[8] === '-' ? -1 : 1
  const ms = Date.UTC(y, mo - 1, d, h, mi, s, fractionMs) - sign * (offH * 60 + offM) * 60_000
  if (ms < 0 || ms > MAX_UNIX_SECONDS * 1000 + 999) return fail(`${shown(v)} is outside 1970-01-01T00:00:00Z–9999-12-31T23:59:59Z`)
  return { ok: true, ms }
}

/** Any value from JSON, a query string, a CSV cell or a GraphQL argument → epoch milliseconds or a message. */
export function parseInstant(v: unknown): InstantResult {
  if (typeof v === 'number') {
    if (!Number.isInteger(v) || v < 0) return fail(`unix seconds must be a whole number ≥ 0; got ${v}`)
    return fromSeconds(v, String(v))
  }
  if (typeof v === 'string') return fromText(v)
  if (v === undefined || v === null) return fail(`is required: ${INSTANT_FORMAT}`)
  return fail(`must be ${INSTANT_FORMAT}`)
}

/** `parseInstant` as a Date, or undefined when refused (callers that report their own message). */
export function toDate(v: unknown): Date | undefined {
  const r = parseInstant(v)
  return r.ok ? new Date(r.ms) : undefined
}
