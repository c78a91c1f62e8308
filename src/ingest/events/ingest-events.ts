import type { Db } from '../../db/client.js'
import { claimAndInsertEvents, getEventHashes } from '../../db/queries/events.js'
import type { FieldProblem } from '../token-classes.js'
import type { EventResult } from './event-schema.js'
import { normalizeEvent, type NormalizedEvent } from './normalize-event.js'

interface Candidate {
  index: number
  event: NormalizedEvent
  hash: string
}

/** A later item whose id was already seen in this request; it follows its first occurrence. */
interface Repeat {
  index: number
  first: number
}

const CONFLICT: FieldProblem = {
  path: 'id',
  message: 'an event with this id and different content is already stored; an event is never counted twice',
}

/**
 * Validates every item, then stores the new ones with ONE statement (one transaction): claim the ids
 * in the idempotency ledger and insert the claimed events and their rollups; then compare the stored
 * hashes of the ids that already existed. Each item stands alone: invalid items are rejected, the
 * rest stored. Results keep input order.
 */
export async function ingestEvents(db: Db, tenantId: string, items: readonly unknown[]): Promise<EventResult[]> {
  const results: EventResult[] = new Array<EventResult>(items.length)
  const firstIndex = new Map<string, number>()
  const hashAt = new Map<number, string>()
  const candidates: Candidate[] = []
  const repeats: Repeat[] = []

  items.forEach((item, index) => {
    const n = normalizeEvent(item)
    const id = n.ok ? n.event.id : n.id
    const first = id === null ? undefined : firstIndex.get(id)
    if (first !== undefined) {
      if (!n.ok) results[index] = { id, status: 'rejected', errors: n.errors }
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
      results[index] = { id, status: 'rejected', errors: n.errors }
      return
    }
    hashAt.set(index, n.hash)
    candidates.push({ index, event: n.event, hash: n.hash })
  })

  if (candidates.length > 0) {
    // One statement claims the ids and writes events and rollups, so it is atomic by itself; no
    // explicit transaction (BEGIN/COMMIT are two more round trips per request). Stored hashes never
    // change, so reading them afterwards for the ids that were not claimed is safe.
    const claimed = await claimAndInsertEvents(db, tenantId, candidates)
    const existing = await getEventHashes(
      db,
      tenantId,
      candidates.filter((c) => !claimed.has(c.event.id)).map((c) => c.event.id),
    )
    for (const c of candidates) {
      const id = c.event.id
      if (claimed.has(id)) results[c.index] = { id, status: 'created' }
      else if (existing.get(id) === c.hash) results[c.index] = { id, status: 'duplicate' }
      else results[c.index] = { id, status: 'rejected', errors: [CONFLICT] }
    }
  }

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
