import type { UsageDims } from './bucket.js'
import { shapeText, type DeclaredShape } from './shapes.js'
import { Turns } from './turns.js'

/**
 * The report-shape rule in memory, for requests whose rows are all in memory (the JSON forms): each
 * (provider, account, kind, start, end) of a request is one shape (src/ingest/shapes.ts), and within
 * provider/account/kind, rows may overlap in time only with the same (start, end) — hence the same
 * shape. `kind` is the usage type of token buckets, the resource name of resources. The stored side
 * is checked in SQL (src/db/queries/buckets.ts, `conflictProbe`).
 */

/** A row as the shape rule sees it. */
export interface ShapedRow {
  dims: UsageDims
  kind: string
  /** Attribute keys of a resource row (grouped attributes are part of its shape). */
  attributeKeys?: readonly string[]
}

/** One distinct (provider, account, kind, start, end) among a request's rows, with its shape. */
export interface BucketShape {
  provider: string
  accountId: string | null
  kind: string
  startMs: number
  endMs: number
  shape: string
  /**
   * False when the shape starts exactly where the previous one (same account and kind) ends: anything
   * stored across its start would also overlap that previous shape, so one probe backwards per run suffices.
   */
  leads: boolean
}

export interface ShapeCheck {
  /** The distinct shapes, to be checked against stored rows. */
  shapes: BucketShape[]
  /** True when two of the rows already break the rule among themselves. */
  overlapping: boolean
}

/** The rows of one shape while they are collected. */
interface ShapeGroup {
  shape: BucketShape
  mask: number
  keys: Set<string>
  members: UsageDims[]
  resource: boolean
}

/** One account and kind's groups: by start time, and the groups of a start's further ends by `start/end`. */
interface AccountShapes {
  byStart: Map<number, ShapeGroup>
  otherEnds: Map<string, ShapeGroup>
}

const accountKey = (d: UsageDims, kind: string) =>
  `${d.provider.length}:${d.provider}${d.accountId === null ? '\u0000' : `:${d.accountId.length}:${d.accountId}`}/${kind}`

/**
 * Computes each row's shape (setting `dims.shape`), collects the distinct shapes and checks the rows
 * against each other: O(n log n). `declared` is the request's `?group_by=`; `declaredAttributes`
 * says which declared attribute names apply to a resource (all, when it returns undefined).
 */
export async function checkShapes(
  rows: readonly ShapedRow[],
  declared?: DeclaredShape,
  declaredAttributes?: (kind: string) => readonly string[] | undefined,
): Promise<ShapeCheck> {
  const turns = new Turns()
  // Per account and kind, the groups by start time; a start's further ends (rows that overlap) by their text.
  // No key text per row otherwise: building and hashing two strings per row was most of this loop's time,
  // and the rows of a request nearly always share one account and kind, so the last one is tried first.
  const groups = new Map<string, AccountShapes>()
  let last: (AccountShapes & { provider: string; accountId: string | null; kind: string }) | undefined
  for (const r of rows) {
    const d = r.dims
    if (!last || last.provider !== d.provider || last.accountId !== d.accountId || last.kind !== r.kind) {
      const account = accountKey(d, r.kind)
      let found = groups.get(account)
      if (!found) groups.set(account, (found = { byStart: new Map(), otherEnds: new Map() }))
      last = { ...found, provider: d.provider, accountId: d.accountId, kind: r.kind }
    }
    const atStart = last.byStart.get(d.startMs)
    let g: ShapeGroup | undefined
    let otherEnd: string | undefined
    if (atStart === undefined || atStart.shape.endMs === d.endMs) g = atStart
    else g = last.otherEnds.get((otherEnd = `${d.startMs}/${d.endMs}`))
    if (!g) {
      const shape = { provider: d.provider, accountId: d.accountId, kind: r.kind, startMs: d.startMs, endMs: d.endMs, shape: '', leads: true }
      g = { shape, mask: declared?.mask ?? 0, keys: new Set(), members: [], resource: r.attributeKeys !== undefined }
      if (otherEnd === undefined) last.byStart.set(d.startMs, g)
      else last.otherEnds.set(otherEnd, g)
      if (declared && g.resource) {
        const applies = declaredAttributes?.(r.kind)
        for (const a of declared.attributes) if (!applies || applies.includes(a)) g.keys.add(a)
      }
    }
    g.mask |= d.present
    for (const k of r.attributeKeys ?? []) g.keys.add(k)
    g.members.push(d)
    if (turns.due()) await turns.take()
  }
  const all: BucketShape[] = []
  let overlapping = false
  for (const { byStart, otherEnds } of groups.values()) {
    const inAccount: BucketShape[] = []
    for (const g of [...byStart.values(), ...otherEnds.values()]) {
      g.shape.shape = g.resource ? shapeText(g.mask, g.keys) : shapeText(g.mask)
      for (const m of g.members) m.shape = g.shape.shape
      inAccount.push(g.shape)
    }
    // (start, end) are distinct within an account and kind: the order is total.
    const sorted = inAccount.sort((a, b) => a.startMs - b.startMs || a.endMs - b.endMs)
    let maxEnd = -Infinity
    for (const s of sorted) {
      // Sorted by start: s overlaps an earlier shape iff it starts before their latest end; shapes
      // here have distinct (start, end), so that always breaks the rule.
      if (s.startMs < maxEnd) overlapping = true
      s.leads = s.startMs !== maxEnd
      maxEnd = Math.max(maxEnd, s.endMs)
      all.push(s)
    }
  }
  return { shapes: all, overlapping }
}
