import { randomUUID } from 'node:crypto'
import type { Db } from '../db/client.js'
import { recordAlerts, type AlertCandidate, type AlertRow } from '../db/queries/budgets.js'
import type { Budget } from './budget-model.js'
import { CALENDAR_WINDOW, periodAt, ROLLING_DAYS, windowsCovering, type Span } from './periods.js'
import { thresholdsMet } from './ratios.js'
import { spendByWindow, spendOver } from './spend.js'
import { SHORTEST_WINDOW_SECONDS, type Window } from '../usage/windows.js'
import { DAY_MS } from '../time/instant.js'

/**
 * The written span in consecutive pieces whose covering windows one usage query may span (maxGroups). One
 * row far from the others (a year-9999 typo beside today's usage) made the span more day windows than
 * that, and the whole evaluation failed. A piece is covered by whole windows, at most one more on each side.
 */
function pieces(window: Window, written: Span, maxGroups: number): Span[] {
  const step = Math.max(1, maxGroups - 5) * SHORTEST_WINDOW_SECONDS[window] * 1000
  const out: Span[] = []
  for (let start = written.start.getTime(); ; start += step) {
    const end = Math.min(start + step, written.end.getTime())
    out.push({ start: new Date(start), end: new Date(end) })
    if (end >= written.end.getTime()) return out
  }
}

/**
 * Records the alerts `budget` owes and returns the ones this call recorded (the others were recorded
 * before, or by a concurrent evaluation).
 *
 * - `written` (after ingest): the span of `start_time`s just written. A calendar budget evaluates every
 *   period those rows fall in — an import of last month's usage can still cross last month's budget.
 * - no span (the timer): the period containing `now`.
 * A rolling budget is evaluated at `now` only, and its alert's period is the local day of detection.
 */
export async function evaluateBudget(db: Db, budget: Budget, now: Date, maxGroups: number, written?: Span): Promise<AlertRow[]> {
  const candidates: AlertCandidate[] = []
  const add = (span: Span, { spent, complete }: { spent: string; complete: boolean }) => {
    for (const threshold of thresholdsMet(spent, budget.amount, budget.thresholds))
      candidates.push({ id: randomUUID(), periodStart: span.start, periodEnd: span.end, threshold, spent, complete })
  }
  const window = CALENDAR_WINDOW[budget.period]
  if (window) {
    const seen = new Set<string>()
    for (const part of written ? pieces(window, written, maxGroups) : [undefined]) {
      const range = part ? await windowsCovering(db, window, budget.timeZone, part.start, part.end) : await periodAt(db, budget.period, budget.timeZone, now)
      for (const w of await spendByWindow(db, budget, window, range.rows, maxGroups)) {
        // Neighbouring pieces can share the window at their boundary.
        const key = `${w.start.getTime()}/${w.end.getTime()}`
        if (!seen.has(key)) add(w, w)
        seen.add(key)
      }
    }
  } else {
    const days = ROLLING_DAYS[budget.period]!
    // Rows that all start before the rolling window (or after now) cannot move it.
    if (written && (written.end.getTime() < now.getTime() - days * DAY_MS || written.start > now)) return []
    const total = await spendOver(db, budget, (await periodAt(db, budget.period, budget.timeZone, now)).rows, { maxGroups })
    if (thresholdsMet(total.spent, budget.amount, budget.thresholds).length > 0)
      add(await windowsCovering(db, 'DAY', budget.timeZone, now, now), total)
  }
  // What was evaluated: a PUT meanwhile may have changed what the budget measures (recordAlerts).
  const evaluated = { tenant_id: budget.tenantId, id: budget.id, period: budget.period, time_zone: budget.timeZone, filter: budget.filter, rate_card: budget.rateCard }
  return recordAlerts(db, evaluated, candidates, now)
}
