/** The server's summary as `key: value` lines (nested values as compact JSON). */
export function formatSummary(summary: unknown): string {
  if (summary === null || typeof summary !== 'object') return `${JSON.stringify(summary)}\n`
  return Object.entries(summary)
    .map(([k, v]) => `${k}: ${v !== null && typeof v === 'object' ? JSON.stringify(v) : String(v)}\n`)
    .join('')
}
