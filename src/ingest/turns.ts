import { setImmediate as nextTurn } from 'node:timers/promises'

/** The longest a loop over a request's rows runs before the event loop gets a turn. */
const SLICE_MS = 20
/** Rows between two looks at the clock (a row costs microseconds: 256 of them are well under a slice). */
const CHECK_EVERY = 256

/**
 * Lets a long synchronous loop over one request's rows share the event loop. A JSON body of
 * `BODY_LIMIT` holds ~150,000 buckets: parsing, shaping and encoding them took seconds of one turn,
 * and for that long no other request, health check or timer of the process ran. A loop asks `due()`
 * per row and, when it says so, `await take()`s: other work runs in between, then the loop goes on.
 * A request of a thousand rows never waits (it is done within its first slice).
 */
export class Turns {
  private rows = 0
  private since = performance.now()

  /** True when this loop has had its slice: `await take()` before the next row. */
  due(): boolean {
    return ++this.rows % CHECK_EVERY === 0 && performance.now() - this.since >= SLICE_MS
  }

  async take(): Promise<void> {
    await nextTurn()
    this.since = performance.now()
  }
}

/** `list.forEach(visit)`, sharing the event loop (see Turns). */
export async function eachRow<T>(list: readonly T[], visit: (item: T, index: number) => void): Promise<void> {
  const turns = new Turns()
  for (let i = 0; i < list.length; i++) {
    visit(list[i]!, i)
    if (turns.due()) await turns.take()
  }
}
