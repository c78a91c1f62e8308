/**
 * The instant a listing is priced as of (every page of it, through its cursor): the `pricingAsOf` asked
 * for, but never later than `now`, the first page's read. Rates not written yet are not known; kept as a
 * later instant, it let a rate written between two pages count as recorded before it, and the later
 * pages were priced otherwise than the first.
 */
export function pricingInstant(asked: Date | null | undefined, now: Date): Date {
  return asked && asked < now ? asked : now
}
