import { utcMonth } from '../../src/db/partitions.js'

/**
 * The clock, read at least `spanMs` before the next UTC month begins: for a test whose server reads its own
 * clock (there is no `now` to hand it) and which asserts on the month that clock is in, over a span of up
 * to `spanMs` from this reading. In a month's last `spanMs` it waits for the month to turn first — at most
 * `spanMs`, once a month — so the test's reading and every one the server makes during the span are of
 * one month. Without it such a test failed when a month turned while it ran.
 */
export async function clearOfMonthTurn(spanMs: number): Promise<Date> {
  const turn = utcMonth(new Date(), 1).getTime()
  if (turn - Date.now() < spanMs) while (Date.now() < turn) await new Promise((r) => setTimeout(r, turn - Date.now()))
  return new Date()
}
