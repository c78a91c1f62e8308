import { Decimal } from 'decimal.js'
import { normalizeDecimal } from '../decimal/decimal-text.js'

// Enough significant digits that a quotient is exact to far beyond the 12 places it is rounded to (a
// terminating quotient, the only kind that can tie, is then exact and rounds half-even correctly).
const D = Decimal.clone({ precision: 200, rounding: Decimal.ROUND_HALF_EVEN, toExpNeg: -9e15, toExpPos: 9e15 })

/** The contract's ratios: rounded half-even to 12 places, plain notation, trailing zeros stripped. */
const ratio = (d: Decimal) => normalizeDecimal(d.toDecimalPlaces(12, D.ROUND_HALF_EVEN).toFixed())

/** spent ÷ amount × 100. */
export function percentUsed(spent: string, amount: string): string {
  return ratio(new D(spent).times(100).dividedBy(amount))
}

/**
 * Calendar periods: spent × period length ÷ elapsed time (the run rate so far, over the whole period);
 * a period that is over has its spend as forecast. Rolling periods: the spend itself (the window is
 * always full).
 */
export function forecast(spent: string, period: { start: Date; end: Date }, at: Date, rolling: boolean): string {
  const elapsed = at.getTime() - period.start.getTime()
  if (rolling || at >= period.end || elapsed <= 0) return normalizeDecimal(spent)
  return ratio(new D(spent).times(period.end.getTime() - period.start.getTime()).dividedBy(elapsed))
}

/** Thresholds (percent of amount) that `spent` reaches: spent × 100 ≥ amount × threshold, exactly. */
export function thresholdsMet(spent: string, amount: string, thresholds: readonly number[]): number[] {
  const s = new D(spent).times(100)
  return thresholds.filter((t) => s.greaterThanOrEqualTo(new D(amount).times(t)))
}
