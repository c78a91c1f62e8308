/**
 * The CSV lines of the REST reports (RFC 4180, the dashboard exports' forms); no HTTP here — the
 * routes stream them.
 */

/** RFC 4180 field: quoted only when it must be; null/undefined is an empty field. */
function field(v: unknown): string {
  if (v === null || v === undefined) return ''
  const s = String(v)
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

export function csvLine(values: unknown[]): string {
  return `${values.map(field).join(',')}\n`
}

/** `2025-10-05T00:00:00+00:00`, the export's ISO form. */
export function isoSeconds(unix: number): string {
  return `${new Date(unix * 1000).toISOString().slice(0, 19)}+00:00`
}

/** The bucket's first four columns, as the export writes them. */
export const TIME_COLUMNS = ['start_time', 'end_time', 'start_time_iso', 'end_time_iso'] as const

/** The cost columns every usage CSV ends with (the JSON result's `cost`, exact). */
export const COST_COLUMNS = ['cost_value', 'cost_currency', 'cost_complete', 'unpriced_tokens'] as const

interface ResultCost {
  value_exact: string
  currency: string
  complete: boolean
  unpriced_tokens: number
  unpriced_quantity?: { resource: string; quantity: string }[]
}

/**
 * A JSON result as CSV cells: its fields as they are, `cost` as the cost columns (the exact decimal),
 * `unpriced_quantity` as `resource:quantity` pairs joined by `;`.
 */
export function resultCells(result: Record<string, unknown> & { cost: ResultCost }): Record<string, unknown> {
  const { cost, ...fields } = result
  return {
    ...fields,
    cost_value: cost.value_exact,
    cost_currency: cost.currency,
    cost_complete: cost.complete ? 'true' : 'false',
    unpriced_tokens: cost.unpriced_tokens,
    ...(cost.unpriced_quantity ? { unpriced_quantity: cost.unpriced_quantity.map((u) => `${u.resource}:${u.quantity}`).join(';') } : {}),
  }
}

/**
 * CSV lines of one bucket, one per result, in `columns` (which start with TIME_COLUMNS); a bucket
 * without results is one row of blank fields, as the export writes it.
 */
export function bucketCsvLines(bucket: { start: number; end: number }, columns: readonly string[], cells: Record<string, unknown>[]): string {
  const times = [bucket.start, bucket.end, isoSeconds(bucket.start), isoSeconds(bucket.end)]
  const rest = columns.slice(TIME_COLUMNS.length)
  if (!cells.length) return csvLine([...times, ...rest.map(() => null)])
  return cells.map((c) => csvLine([...times, ...rest.map((k) => c[k])])).join('')
}
