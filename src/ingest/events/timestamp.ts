const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/

/** Latest accepted instant: the end of year 9999, as PostgreSQL and RFC 3339 both represent it. */
const MAX_SECONDS = 253402300799

/**
 * RFC 3339 text or unix seconds → Date, or undefined; 1970 to the end of 9999. Stricter than Date.parse, which silently rolls
 * 2026-02-30 over to March 2nd. Precision is milliseconds (JS Date); finer digits are truncated.
 */
export function parseTimestamp(v: string | number): Date | undefined {
  if (typeof v === 'number') {
    if (!Number.isFinite(v) || v < 0 || v > MAX_SECONDS) return undefined
    return new Date(Math.round(v * 1000))
  }
  const m = RFC3339.exec(v)
  if (!m) return undefined
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number]
  const daysInMonth = new Date(Date.UTC(y, mo, 0)).getUTCDate()
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth || h > 23 || mi > 59 || s > 59) return undefined
  const offH = m[9] ? Number(m[9]) : 0
  const offM = m[10] ? Number(m[10]) : 0
  if (offH > 23 || offM > 59) return undefined
  const ms = m[7] ? Math.floor(Number(`0${m[7]}`) * 1000) : 0
  const sign = m[8] === '-' ? -1 : 1
  // setUTCFullYear, because Date.UTC maps years 0–99 to 1900–1999.
  const local = new Date(0)
  local.setUTCFullYear(y, mo - 1, d)
  local.setUTCHours(h, mi, s, ms)
  const utc = local.getTime() - sign * (offH * 60 + offM) * 60_000
  return utc < 0 || utc > MAX_SECONDS * 1000 ? undefined : new Date(utc)
}
