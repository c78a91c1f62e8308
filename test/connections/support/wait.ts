/**
 * Polls `check` until it returns something other than `undefined`/`false`, and returns that. Gives up
 * after `timeoutMs` (generous: a loaded 2-core CI machine can pause a process or PostgreSQL for seconds)
 * with an error naming what was awaited and, when given, the last state seen.
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  opts: { timeoutMs?: number; everyMs?: number; state?: () => string } = {},
): Promise<T> {
  const { timeoutMs = 60_000, everyMs = 50 } = opts
  const until = Date.now() + timeoutMs
  for (;;) {
    const got = await check()
    if (got !== undefined && got !== false) return got
    if (Date.now() > until) throw new Error(`gave up after ${timeoutMs} ms waiting for ${what}${opts.state ? `: ${opts.state()}` : ''}`)
    await new Promise((r) => setTimeout(r, everyMs))
  }
}
