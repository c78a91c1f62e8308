import type { EventResult } from '../ingest/events/event-schema.js'
import { parseTimestamp } from '../ingest/events/timestamp.js'
import type { Span } from './periods.js'

/**
 * The span of the events a request created (results are in input order). Their timestamps passed
 * the one instant parser during ingest, so they parse again; nothing else is re-validated.
 */
export function createdEventSpan(items: readonly unknown[], results: readonly EventResult[]): Span | undefined {
  let lo = Infinity
  let hi = -Infinity
  results.forEach((r, i) => {
    if (r.status !== 'created') return
    const raw = (items[i] as { timestamp?: unknown } | null)?.timestamp
    const t = typeof raw === 'string' || typeof raw === 'number' ? parseTimestamp(raw)?.getTime() : undefined
    if (t === undefined) return
    lo = Math.min(lo, t)
    hi = Math.max(hi, t)
  })
  return lo <= hi ? { start: new Date(lo), end: new Date(hi) } : undefined
}
