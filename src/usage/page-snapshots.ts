import { randomBytes } from 'node:crypto'

/**
 * Paged usage reads as one snapshot (docs/performance.md "Paging"): the statement of a query's first
 * page computes every group once and also returns the rows after the page, as many as fit in one
 * entry's share of the cache (`entryBudget`); those rows, the totals and the group count are kept
 * here, in process memory, under a random id that the page's cursor carries. Later pages with that
 * cursor are served from the snapshot without touching the database. An entry is bound to its tenant
 * and query hash (a cursor of another tenant or query never finds it), lives `ttlMs`, and the whole
 * cache holds at most `maxBytes` (approximated by the rows' JSON length, as the statement measured it
 * or else `estimatedJsonLength`; the oldest entries go first). A miss — evicted, expired, another instance —
 * is not an error: the caller recomputes the page (src/usage/usage-service.ts).
 */

export interface Snapshot<Row, Extra> {
  tenantId: string
  hash: string
  /** Offset (in the whole result) of `rows[0]`. */
  start: number
  /** The rows from `start` on, in page order: up to the end of the result or the fetch bound. */
  rows: Row[]
  /** Everything a page needs besides its rows (totals, group count, currency, …). */
  extra: Extra
}

interface Entry<Row, Extra> extends Snapshot<Row, Extra> {
  bytes: number
  expires: number
}

export interface SnapshotLimits {
  /** Upper bound on the cache's size in bytes (JSON length of the kept rows); 0 disables it. */
  maxBytes: number
  ttlMs: number
}

/** Bytes counted per entry besides its rows (ids, totals, bookkeeping). */
const ENTRY_OVERHEAD = 256

const DEFAULT_SNAPSHOT_LIMITS: SnapshotLimits = { maxBytes: 64 * 1024 * 1024, ttlMs: 5 * 60_000 }

/** Rows measured when the caller does not know their size: the rows of one result share their shape. */
const SAMPLE_ROWS = 64

/**
 * The JSON length of `rows`, measured on at most SAMPLE_ROWS of them and scaled to all: one row drawn from
 * each of SAMPLE_ROWS equal slices of the array, at a position a fixed pseudo-random sequence picks (evenly
 * spaced picks alias with rows that repeat with the stride: a result of three models sampled every 135th
 * row saw one model only). Serializing every row of a 1,200-row read ahead cost ~20 ms and a megabyte of
 * garbage per listing (docs/rest-mirrors.md "Read ahead"), for a figure the cache only uses as its bound.
 */
export function estimatedJsonLength(rows: readonly unknown[]): number {
  if (rows.length <= SAMPLE_ROWS) return JSON.stringify(rows).length
  const slice = rows.length / SAMPLE_ROWS
  let seed = rows.length
  let sampled = 0
  for (let i = 0; i < SAMPLE_ROWS; i++) {
    // A 32-bit xorshift: the same picks for the same array length, so the figure is reproducible.
    seed ^= seed << 13
    seed ^= seed >>> 17
    seed ^= seed << 5
    const at = Math.floor(i * slice + ((seed >>> 0) / 2 ** 32) * slice)
    sampled += (JSON.stringify(rows[at]) ?? 'null').length + 1
  }
  return Math.ceil((sampled * rows.length) / SAMPLE_ROWS) + 1
}

export class SnapshotCache<Row, Extra> {
  private readonly entries = new Map<string, Entry<Row, Extra>>()
  private bytes = 0

  constructor(
    public limits: SnapshotLimits = DEFAULT_SNAPSHOT_LIMITS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Bytes held now (for tests and metrics). */
  get size(): number {
    return this.bytes
  }

  /**
   * The row bytes one entry may hold: one query may take at most a quarter of the cache, so one huge
   * read cannot flush everyone's. A statement that fills a snapshot fetches at most this many (0: none).
   */
  get entryBudget(): number {
    return Math.max(0, Math.floor(this.limits.maxBytes / 4) - ENTRY_OVERHEAD)
  }

  /**
   * Keeps a snapshot; returns its id, or undefined when it is not kept (too large, cache disabled).
   * `rowBytes`: the rows' JSON length when the caller already knows it (the statement measured it).
   */
  put(snapshot: Snapshot<Row, Extra>, rowBytes?: number): string | undefined {
    const bytes = (rowBytes ?? estimatedJsonLength(snapshot.rows)) + ENTRY_OVERHEAD
    if (this.limits.maxBytes <= 0 || bytes > this.limits.maxBytes / 4) return undefined
    this.sweep()
    while (this.bytes + bytes > this.limits.maxBytes) {
      const oldest = this.entries.keys().next()
      if (oldest.done) break
      this.drop(oldest.value)
    }
    const id = randomBytes(16).toString('base64url')
    this.entries.set(id, { ...snapshot, bytes, expires: this.now() + this.limits.ttlMs })
    this.bytes += bytes
    return id
  }

  /** The snapshot `id`, when it is still held and belongs to this tenant and query. */
  get(id: string, tenantId: string, hash: string): Snapshot<Row, Extra> | undefined {
    const e = this.entries.get(id)
    if (!e) return undefined
    if (e.expires <= this.now()) {
      this.drop(id)
      return undefined
    }
    return e.tenantId === tenantId && e.hash === hash ? e : undefined
  }

  clear(): void {
    this.entries.clear()
    this.bytes = 0
  }

  private drop(id: string): void {
    const e = this.entries.get(id)
    if (!e) return
    this.entries.delete(id)
    this.bytes -= e.bytes
  }

  /** Drops expired entries (insertion order is expiry order: every entry has the same TTL). */
  private sweep(): void {
    const now = this.now()
    for (const [id, e] of this.entries) {
      if (e.expires > now) break
      this.drop(id)
    }
  }
}
