import type { Db } from '../../db/client.js'
import { claimAndInsertEvents, getEventHashes } from '../../db/queries/events.js'
import { beforeRetention, type RetentionGuard } from '../retention.js'
import { eachRow } from '../turns.js'
import type { FieldProblem } from '../token-classes.js'
import type { EventResult } from './event-schema.js'
import { MAX_LISTED_ERRORS } from '../../errors.js'
import { normalizeEvent, type NormalizedEvent } from './normalize-event.js'

/** A valid item whose id is the first of its kind in its request: it goes to the store. */
export interface Candidate {
  index: number
  event: NormalizedEvent
  hash: string
  /** The hash an earlier version stored for this content, where it differs from `hash` (see normalize-event.ts). */
  sentOrderHash?: string
}

/** A later item whose id was already seen in this request; it follows its first occurrence. */
interface Repeat {
  index: number
  first: number
}

/** One request's items, validated: the rejected ones have their results, the candidates await the store. */
export interface PreparedEvents {
  results: EventResult[]
  candidates: Candidate[]
  repeats: Repeat[]
}

/** What the store made of one candidate. */
export type StoreOutcome = 'created' | 'duplicate' | 'conflict'

const CONFLICT: FieldProblem = {
  path: 'id',
  message: 'an event with this id and different content is already stored; an event is never counted twice',
}

/**
 * Problems listed in one response over all its events: at most MAX_LISTED_ERRORS, as in every problem
 * response. An event lists at most MAX_EVENT_PROBLEMS; 10,000 events of a 10 MB body each naming 101 unknown
 * fields answered with 1M problems — a 50 MB response, the server's memory up by 340 MB while it was built.
 * Past the budget a rejected event lists its first problem and one item saying the rest were not listed:
 * every rejected event still says why.
 */
function problemBudget(): (errors: FieldProblem[]) => FieldProblem[] {
  let left = MAX_LISTED_ERRORS
  return (errors) => {
    const keep = Math.max(left, 1)
    left = Math.max(left - errors.length, 0)
    if (errors.length <= keep) return errors
    return [...errors.slice(0, keep), { path: '(event)', message: `and more problems, not listed: a response lists at most ${MAX_LISTED_ERRORS} problems in all` }]
  }
}

/**
 * Validates every item; a repeated id within the request is compared with its first occurrence. An
 * event before the retention cutoff is rejected (src/ingest/retention.ts), the others stand. The loop
 * shares the event loop (src/ingest/turns.ts): 10,000 events of a 24 MB body took seconds to validate
 * and hash, and for that long no other request of the process was served.
 */
export async function prepareEvents(items: readonly unknown[], retention?: RetentionGuard): Promise<PreparedEvents> {
  const results: EventResult[] = new Array<EventResult>(items.length)
  const firstIndex = new Map<string, number>()
  const hashAt = new Map<number, string>()
  const candidates: Candidate[] = []
  const repeats: Repeat[] = []
  const within = problemBudget()

  await eachRow(items, (item, index) => {
    const normalized = normalizeEvent(item)
    const old = normalized.ok ? beforeRetention(retention, normalized.event.timestamp.getTime(), 'timestamp is') : undefined
    const n: typeof normalized = old && normalized.ok ? { ok: false, id: normalized.event.id, errors: [{ path: 'timestamp', message: old }] } : normalized
    const id = n.ok ? n.event.id : n.id
    const first = id === null ? undefined : firstIndex.get(id)
    if (first !== undefined) {
      if (!n.ok) results[index] = { id, status: 'rejected', errors: within(n.errors) }
      else if (!hashAt.has(first))
        results[index] = {
          id,
          status: 'rejected',
          errors: [{ path: 'id', message: `repeats the id of item ${first}, which was rejected` }],
        }
      else if (hashAt.get(first) !== n.hash)
        results[index] = {
          id,
          status: 'rejected',
          errors: [{ path: 'id', message: `repeats the id of item ${first} with different content` }],
        }
      else repeats.push({ index, first })
      return
    }
    if (id !== null) firstIndex.set(id, index)
    if (!n.ok) {
      results[index] = { id, status: 'rejected', errors: within(n.errors) }
      return
    }
    hashAt.set(index, n.hash)
    candidates.push({ index, event: n.event, hash: n.hash, sentOrderHash: n.sentOrderHash })
  })
  return { results, candidates, repeats }
}

/**
 * Stores the candidates of several requests of one tenant with ONE statement, which claims the ids in
 * the idempotency ledger and inserts the claimed events and their rollups — atomic by itself, so no
 * explicit transaction (BEGIN/COMMIT would be two more round trips), and committed when it returns.
 *
 * Requests are taken in order, as if each had been stored after the ones before it: only the first
 * occurrence of an id goes into the statement (a repeated id in one statement would be inserted and
 * counted twice); every later occurrence is then compared with what is stored under the id — which is
 * the first occurrence's content if this statement claimed it. Stored hashes never change, so reading
 * them afterwards for the ids that were not claimed is safe.
 */
export async function storeCandidates(
  db: Db,
  tenantId: string,
  requests: readonly (readonly Candidate[])[],
): Promise<StoreOutcome[][]> {
  const firstOf = new Map<string, Candidate>()
  for (const candidates of requests) for (const c of candidates) if (!firstOf.has(c.event.id)) firstOf.set(c.event.id, c)
  const unique = [...firstOf.values()]
  if (unique.length === 0) return requests.map(() => [])

  const claimed = await claimAndInsertEvents(db, tenantId, unique)
  const existing = await getEventHashes(
    db,
    tenantId,
    unique.filter((c) => !claimed.has(c.event.id)).map((c) => c.event.id),
  )
  const storedHash = (c: Candidate) => (claimed.has(c.event.id) ? firstOf.get(c.event.id)!.hash : existing.get(c.event.id))
  return requests.map((candidates) =>
    candidates.map((c): StoreOutcome => {
      if (claimed.has(c.event.id) && firstOf.get(c.event.id) === c) return 'created'
      // An event stored before resources were hashed in canonical order carries the hash of the order sent.
      const stored = storedHash(c)
      return stored === c.hash || (c.sentOrderHash !== undefined && stored === c.sentOrderHash) ? 'duplicate' : 'conflict'
    }),
  )
}

/** The request's results in input order, given the store's outcome for each of its candidates. */
export function finishEvents(prepared: PreparedEvents, outcomes: readonly StoreOutcome[]): EventResult[] {
  const { results, candidates, repeats } = prepared
  candidates.forEach((c, i) => {
    const id = c.event.id
    const outcome = outcomes[i]
    if (outcome === 'created') results[c.index] = { id, status: 'created' }
    else if (outcome === 'duplicate') results[c.index] = { id, status: 'duplicate' }
    else results[c.index] = { id, status: 'rejected', errors: [CONFLICT] }
  })
  // A repeat with the same content as its first occurrence is a duplicate of it — or shares its rejection.
  for (const r of repeats) {
    const first = results[r.first]!
    results[r.index] =
      first.status === 'rejected'
        ? { id: first.id, status: 'rejected', errors: first.errors ?? [] }
        : { id: first.id, status: 'duplicate' }
  }
  return results
}
