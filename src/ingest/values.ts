/**
 * Field-level parsers shared by every ingest format. Each returns the value or a message; the caller
 * attaches the row's index/line and the field path. JSON values arrive typed (a string counter is an
 * error there); CSV values are always strings (`10.0` is how the dashboard export writes integers).
 */

import { parseInstant } from '../time/instant.js'

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string }

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value })
const fail = (message: string): Parsed<never> => ({ ok: false, message })

/** Counters are exact in a JS number (and a bigint column) up to 2^53 − 1. */
export const MAX_COUNTER = Number.MAX_SAFE_INTEGER
/**
 * Dimensions, attribute and label keys/values, ids: at most this many characters (Unicode code points,
 * so 256 emoji are 256 characters). Every combination of maxima must store: with 4-byte characters a
 * field is ≤ 1 KiB, which every index holding such a field has room for (or hashes).
 */
export const MAX_DIMENSION_LENGTH = 256

/** The number of characters (code points) in `s`, counting only as far as `limit` + 1. */
function characters(s: string, limit: number): number {
  let n = 0
  for (let i = 0; i < s.length && n <= limit; i++, n++) {
    const c = s.charCodeAt(i)
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1)
      if (d >= 0xdc00 && d <= 0xdfff) i++
    }
  }
  return n
}

/** NUL, or any UTF-16 surrogate: one scan finds the strings that need a closer look. */
const SUSPECT_UNITS = /[\0\uD800-\uDFFF]/
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/**
 * Why `s` cannot be a stored dimension/label text, or undefined: too long, holding NUL (PostgreSQL text
 * cannot), or a lone UTF-16 surrogate (`"\ud800"` in JSON: no character, stored as U+FFFD — not what
 * was sent).
 */
export function textProblem(s: string, max = MAX_DIMENSION_LENGTH): string | undefined {
  if (longerThan(s, max)) return `must be at most ${max} characters`
  return unstorableText(s)
}

/** Whether `s` has more than `max` characters (code points, not UTF-16 units). */
export function longerThan(s: string, max = MAX_DIMENSION_LENGTH): boolean {
  // A string of at most `max` UTF-16 units has at most `max` characters: most strings stop here.
  return s.length > max && characters(s, max) > max
}

/** Why `s` cannot be stored as sent, whatever its length (NUL, a lone surrogate), or undefined. */
export function unstorableText(s: string): string | undefined {
  if (!SUSPECT_UNITS.test(s)) return undefined
  if (s.includes('\0')) return 'may not contain the NUL character (\\u0000)'
  if (LONE_SURROGATE.test(s)) return 'may not contain a lone UTF-16 surrogate (\\ud800–\\udfff without its pair): it is no character'
  return undefined
}

/**
 * A provider id: what a rate card names (`openai`, `anthropic`, `openrouter`, `azure`, …): ASCII letters,
 * digits, `.`, `_` and `-`, starting with a letter or digit, at most 63 characters. Case does not matter:
 * every entry point stores an id folded to lower case, so `OpenAI` and `openai` are one provider — one
 * natural key, one rate, one filter value (docs/consistency.md; migration 0016 folded stored rows).
 */
export const PROVIDER_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/
export const PROVIDER_ID_RULE = 'must be a provider id such as "openai": letters, digits, ".", "_" or "-", starting with a letter or digit, at most 63 characters (case does not matter)'

/**
 * ASCII capitals folded to lower case, nothing else changed: how provider ids and service tiers are stored and
 * compared. Not `toLowerCase`: the migrations fold stored rows with `translate`, which is locale-independent,
 * and the two must agree on every text.
 */
export const foldCapitals = (s: string): string => s.replace(/[A-Z]+/g, (m) => m.toLowerCase())

/** A provider name as stored and compared: ASCII capitals folded (the only letters an id has). */
export const foldProvider = foldCapitals

/** A provider id from any entry point, folded; absent (undefined or null) is null: the caller's default applies. */
export function parseProviderId(v: unknown): Parsed<string | null> {
  if (v === undefined || v === null) return ok(null)
  return typeof v === 'string' && PROVIDER_ID.test(v) ? ok(foldProvider(v)) : fail(PROVIDER_ID_RULE)
}

/**
 * JSON arrays and objects nested deeper than this are refused (a 4xx naming the field). Every walk of a
 * JSON value — the NUL scan, JSON.stringify, an event's content hash, PostgreSQL's jsonb parser —
 * recurses once per level: an 8 KiB event metadata nested 4,000 deep overflowed the stack, a 500 for
 * the whole request. Real payloads nest a handful of levels.
 */
export const MAX_JSON_DEPTH = 64
export const TOO_DEEP = `nests arrays or objects deeper than ${MAX_JSON_DEPTH} levels`

/** A JSON counter: absent/null → null; otherwise an integer in [0, 2^53 − 1]. */
export function parseJsonCounter(v: unknown): Parsed<number | null> {
  if (v === undefined || v === null) return ok(null)
  if (typeof v !== 'number' || !Number.isFinite(v)) return fail('must be an integer ≥ 0')
  if (!Number.isInteger(v)) return fail(`must be an integer (got ${v})`)
  if (v < 0) return fail(`must be ≥ 0 (got ${v})`)
  if (v > MAX_COUNTER) return fail(`must be ≤ 2^53 − 1 (got ${v})`)
  return ok(v)
}

// Digits with an optional all-zero fraction: "10", "10.0", "10.000". Nothing else is an integer.
const CSV_INTEGER = /^(\d+)(?:\.0*)?$/

/**
 * A CSV counter: empty → null; `10` and `10.0` → 10; fractions, signs, words → a problem. Digits exactly
 * as written: a cell with surrounding space (` 12`, or only spaces) is a problem, as a JSON string counter
 * is and as surrounding space in a CSV time cell is — the export never writes one.
 */
export function parseCsvCounter(s: string): Parsed<number | null> {
  // The common cell (`1234` or `1234.0`, up to 15 digits: below 2^53 − 1) without trim, regex or replace.
  const fast = plainCount(s)
  if (fast !== undefined) return ok(fast)
  if (s === '') return ok(null)
  const text = s.trim()
  if (text !== s) return fail(`must be digits without surrounding space (got ${JSON.stringify(s.slice(0, 40))})`)
  const m = CSV_INTEGER.exec(text)
  if (!m) {
    if (/^-\s*\d/.test(text)) return fail(`must be ≥ 0 (got ${text})`)
    if (/^\d*\.\d+$/.test(text)) return fail(`must be an integer (got ${text})`)
    return fail(`must be an integer ≥ 0 (got ${JSON.stringify(text.slice(0, 40))})`)
  }
  const digits = m[1]!.replace(/^0+(?=\d)/, '')
  // Compare as text first: Number() silently rounds integers beyond 2^53.
  if (digits.length > 16 || Number(digits) > MAX_COUNTER) return fail(`must be ≤ 2^53 − 1 (got ${text.length > 40 ? `${text.slice(0, 40)}…` : text})`)
  return ok(Number(digits))
}

/** `s` as a count when it is 1–15 digits, optionally followed by `.` and zeros; else undefined. */
function plainCount(s: string): number | undefined {
  let end = s.length
  const dot = s.indexOf('.')
  if (dot !== -1) {
    for (let i = dot + 1; i < end; i++) if (s.charCodeAt(i) !== 48) return undefined
    end = dot
  }
  if (end === 0 || end > 15) return undefined
  for (let i = 0; i < end; i++) {
    const c = s.charCodeAt(i)
    if (c < 48 || c > 57) return undefined
  }
  return Number(s.slice(0, end))
}

/** A time: unix seconds (number or digit string) or an RFC 3339 string → epoch milliseconds (the one parser). */
export function parseTime(v: unknown): Parsed<number> {
  const r = parseInstant(v)
  return r.ok ? ok(r.ms) : fail(r.message)
}

/**
 * parseTime for the `_iso` cells of a CSV export, remembered: an RFC 3339 text takes ~6 µs to parse and
 * an export repeats the same few (rows are per day or hour), so a 1M-row import would spend seconds
 * re-reading them. Bounded: cleared when full.
 */
const isoCells = new Map<string, Parsed<number>>()
function parseIsoCell(text: string): Parsed<number> {
  let parsed = isoCells.get(text)
  if (!parsed) {
    if (isoCells.size >= 4096) isoCells.clear()
    parsed = parseTime(text)
    isoCells.set(text, parsed)
  }
  return parsed
}

/**
 * A CSV export's instant, written twice: `start_time` (unix seconds) and `start_time_iso` (RFC 3339),
 * either blank or absent. What is given must parse, and when both are given they must be the same
 * instant — one of them is wrong and the ledger cannot tell which, so the row is refused rather than
 * one chosen silently. `path` is the column a problem is about.
 */
export function parseCsvTime(cell: (name: string) => string | undefined, name: 'start_time' | 'end_time'): { path: string; parsed: Parsed<number> } {
  const iso = `${name}_iso`
  // A blank cell is "not given"; a given one is parsed as written (surrounding space is refused, as
  // by every other entry point of the one instant parser).
  const unixText = cell(name) ?? ''
  const isoText = cell(iso) ?? ''
  if (unixText.trim() === '') return { path: iso, parsed: parseIsoCell(isoText) }
  const unix = parseTime(unixText)
  if (isoText.trim() === '' || !unix.ok) return { path: name, parsed: unix }
  const other = parseIsoCell(isoText)
  if (!other.ok) return { path: iso, parsed: other }
  if (other.value !== unix.value)
    return { path: name, parsed: fail(`and ${iso} are different instants (${unixText} is ${new Date(unix.value).toISOString()}; ${JSON.stringify(isoText.slice(0, 40))} is ${new Date(other.value).toISOString()}); correct one of them`) }
  return { path: name, parsed: unix }
}

/** JSON `batch`: boolean or null. */
export function parseJsonBatch(v: unknown): Parsed<boolean | null> {
  if (v === undefined || v === null) return ok(null)
  if (typeof v === 'boolean') return ok(v)
  return fail('must be true, false or null')
}

/** CSV `batch`: TRUE/FALSE/true/false, or empty for "not reported". */
export function parseCsvBatch(s: string): Parsed<boolean | null> {
  const text = s.trim()
  if (text === '') return ok(null)
  if (text === 'TRUE' || text === 'true') return ok(true)
  if (text === 'FALSE' || text === 'false') return ok(false)
  return fail(`must be TRUE, FALSE, true, false or empty (got ${JSON.stringify(text.slice(0, 40))})`)
}

/** A JSON dimension: a non-empty string or null. */
export function parseJsonDimension(v: unknown): Parsed<string | null> {
  if (v === undefined || v === null) return ok(null)
  if (typeof v !== 'string') return fail('must be a string or null')
  if (v.length === 0) return fail('must not be empty (use null)')
  const problem = textProblem(v)
  return problem ? fail(problem) : ok(v)
}

/** A CSV dimension: empty → null. */
export function parseCsvDimension(s: string): Parsed<string | null> {
  if (s === '') return ok(null)
  const problem = textProblem(s)
  return problem ? fail(problem) : ok(s)
}

/**
 * Service tiers as pricing sees them, at every entry point (buckets, resources, events, billed costs, filters):
 * case does not matter (`foldCapitals`; rate cards name tiers in lower case); no tier, `standard` and `auto` are
 * `default`; OpenAI reports batch usage as tier `batch`, which is the batch flag on the default tier.
 */
export function normaliseTier(tier: string | null, batch: boolean | null): { serviceTier: string; batch: boolean | null } {
  const folded = tier === null ? null : foldCapitals(tier)
  if (folded === null || folded === 'standard' || folded === 'auto') return { serviceTier: 'default', batch }
  if (folded === 'batch') return { serviceTier: 'default', batch: true }
  return { serviceTier: folded, batch }
}
