/** Errors that mean "the database is not reachable right now" (→ 503 + Retry-After), not "bad query". */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'ETIMEDOUT',
  'EPIPE',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  'DB_ACQUIRE_TIMEOUT',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '53300', // too_many_connections
])

/** No pooled connection became free in time: the database is saturated (or unreachable) → 503. */
export class AcquireTimeoutError extends Error {
  readonly code = 'DB_ACQUIRE_TIMEOUT'
  constructor(ms: number) {
    super(`no database connection became free within ${ms} ms`)
  }
}

export function isConnectionError(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false
  const code = (err as { code?: unknown }).code
  if (typeof code === 'string' && (CONNECTION_CODES.has(code) || code.startsWith('08'))) return true
  const errors = (err as { errors?: unknown }).errors
  return Array.isArray(errors) && errors.some(isConnectionError)
}

/** An error PostgreSQL (or PGlite) raised for a statement: its text may name tables, constraints and values. */
export function isDatabaseError(err: unknown): err is { code: string } {
  return !!err && typeof err === 'object' && typeof (err as { severity?: unknown }).severity === 'string' && typeof (err as { code?: unknown }).code === 'string'
}

/** PostgreSQL's query_canceled, raised by statement_timeout. */
export function isStatementTimeout(err: unknown): boolean {
  return !!err && typeof err === 'object' && (err as { code?: unknown }).code === '57014'
}

/** The database was unreachable, saturated or too slow (→ 503/504): the same work can succeed later. */
export function isUnavailable(err: unknown): boolean {
  return isConnectionError(err) || isStatementTimeout(err)
}

/** PostgreSQL's numeric_value_out_of_range: a sum past int8 (2^63 − 1), in a query or a rollup trigger. */
export function isNumericOutOfRange(err: unknown): boolean {
  return !!err && typeof err === 'object' && (err as { code?: unknown }).code === '22003'
}

export function isUniqueViolation(err: unknown): boolean {
  return !!err && typeof err === 'object' && (err as { code?: unknown }).code === '23505'
}

/**
 * A transaction PostgreSQL aborted because of another one (deadlock_detected, serialization_failure):
 * it wrote nothing, and running it again is the remedy.
 */
function isTransientConflict(err: unknown): boolean {
  const code = !!err && typeof err === 'object' ? (err as { code?: unknown }).code : undefined
  return code === '40P01' || code === '40001'
}

/** Runs `fn`, again (up to `attempts` in all, after a short random pause) when it lost a deadlock. */
export async function retryTransient<T>(fn: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn()
    } catch (err) {
      if (attempt >= attempts || !isTransientConflict(err)) throw err
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 80 * attempt))
    }
  }
}

/** SQLSTATE class 22 (data exception): PostgreSQL refused a value — the client's data, not a fault. */
export function isDataException(err: unknown): boolean {
  const code = !!err && typeof err === 'object' ? (err as { code?: unknown }).code : undefined
  return typeof code === 'string' && code.startsWith('22')
}

/**
 * Where a failed COPY stopped, from PostgreSQL's context line ("COPY t, line 3, column start_time:
 * …"): the 1-based data line and, when a value was refused, its column.
 */
export function copyFailurePosition(err: unknown): { line: number; column?: string } | undefined {
  const where = !!err && typeof err === 'object' ? (err as { where?: unknown }).where : undefined
  const m = typeof where === 'string' ? /\bCOPY [^,]+, line (\d+)(?:, column ([^:]+):)?/.exec(where) : null
  if (!m) return undefined
  return m[2] ? { line: Number(m[1]), column: m[2] } : { line: Number(m[1]) }
}
