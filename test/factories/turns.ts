import { utcMonth } from '../../src/db/partitions.js'

/**
 * The clock, read at least `spanMs` before the next turn (`next(now)`: the next UTC month's start, a zone's
 * next midnight): for a test whose server reads its own clock (there is no `now` to hand it) and which
 * asserts on the period that clock is in, over a span of up to `spanMs` from this reading. Within `spanMs`
 * of a turn it waits for the turn first — at most `spanMs`, once a period — so the test's reading and every
 * one the server makes during the span are of one period. Without it such a test failed when the period
 * turned while it ran.
 */
export async function clearOfTurn(next: (now: Date) => Date, spanMs: number): Promise<Date> {
  const turn = next(new Date()).getTime()
  if (turn - Date.now() < spanMs) while (Date.now() < turn) await new Promise((r) => setTimeout(r, turn - Date.now()))
  return new Date()
}

/** clearOfTurn for the UTC month. */
export function clearOfMonthTurn(spanMs: number): Promise<Date> {
  return clearOfTurn((now) => utcMonth(now, 1), spanMs)
}

/** For clearOfTurn: the next midnight in `tz` — the first instant (to the ms) of another calendar day there. */
export function nextLocalDay(tz: string): (now: Date) => Date {
  const format = new Intl.DateTimeFormat('en-CA', { timeZone: tz, dateStyle: 'short' })
  return (now) => {
    // A day there lasts at most 26 h (25 at a fall-back): bisect for the end of now's date.
    const today = format.format(now)
    let [lo, hi] = [now.getTime(), now.getTime() + 26 * 3600_000]
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2)
      if (format.format(mid) === today) lo = mid
      else hi = mid
    }
    return new Date(hi)
  }
}
