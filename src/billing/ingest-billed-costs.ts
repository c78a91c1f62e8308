import { Readable } from 'node:stream'
import type { Db } from '../db/client.js'
import { retryTransient } from '../db/errors.js'
import { lockAccountsOf } from '../db/queries/buckets.js'
import { findBilledClash, upsertBilledCosts } from '../db/queries/billed-costs.js'
import { problems } from '../errors.js'
import { checkShapes } from '../ingest/intervals.js'
import { Turns } from '../ingest/turns.js'
import { addDecimals } from '../decimal/exact.js'
import { naturalKeyHash, type IndexedBilledRow } from './billed-row.js'
import { declaredBilledShape } from './billed-shapes.js'
import { parseCostCsv } from './parse-cost-csv.js'
import { isAnthropicCostBody, isCostPagesBody, parseCostPages, type ParsedCosts } from './parse-cost-pages.js'
import { notCosts, usageBodyDetail, usageResult } from './usage-results.js'

/**
 * The one path that stores billed costs: POST /v1/billing/costs and the connections puller both call
 * `ingestBilledCosts`. All-or-nothing: every bad row → 400 naming it; a report-shape overlap → 409;
 * otherwise rows sharing a natural key within the request are summed and replace what is stored.
 */

export interface BilledCostsTarget {
  tenantId: string
  /** `?provider=`; default `openai`, or `anthropic` for cost_report pages. */
  provider?: string | undefined
  /** `?account_id=`: the provider account (organization) of every row; wins over a CSV's organization_id. */
  accountId?: string | undefined
  /** `?group_by=`: the report shape the request declares (OpenAI or Anthropic names). */
  groupBy?: readonly string[] | undefined
}

export interface BilledCostsResult {
  received: number
  skipped: number
  created: number
  replaced: number
  unchanged: number
}

const RULE =
  'billed costs of one provider account may overlap in time only with the same start, end and report shape ' +
  '(DELETE /v1/billing/costs to re-import at another granularity or shape)'

/**
 * Sums rows that share a natural key (a report may split one key by dimensions it does not show). What the
 * key leaves out and the parts disagree on — Anthropic's inference_geo (a cost_report splits a description
 * by it), the cost type, the quantity's unit — is null on the sum, never the first part's: that made the
 * stored geo depend on the rows' order (the same report posted again in another order was `replaced`, and
 * an `inferenceGeos` filter gave one geo the whole sum and the other nothing), and quantities of two units
 * were added up.
 */
export async function mergeByKey(rows: readonly IndexedBilledRow[]): Promise<IndexedBilledRow[]> {
  const byKey = new Map<string, IndexedBilledRow>()
  // A row's key is a SHA-256 of its JSON: ~7 µs, so 150,000 rows of a cost CSV held the loop for 1.1 s.
  const turns = new Turns()
  for (const r of rows) {
    if (turns.due()) await turns.take()
    const key = naturalKeyHash(r.row).toString('hex')
    const prev = byKey.get(key)
    if (!prev) byKey.set(key, { ref: r.ref, row: { ...r.row } })
    else {
      const p = prev.row
      const oneUnit = p.quantityUnit === r.row.quantityUnit
      p.amount = addDecimals(p.amount, r.row.amount)
      p.quantity = p.quantity === null || r.row.quantity === null || !oneUnit ? null : addDecimals(p.quantity, r.row.quantity)
      if (!oneUnit) p.quantityUnit = null
      if (p.inferenceGeo !== r.row.inferenceGeo) p.inferenceGeo = null
      if (p.costType !== r.row.costType) p.costType = null
    }
  }
  return [...byKey.values()]
}

const describe = (r: IndexedBilledRow['row']) =>
  `${new Date(r.startMs).toISOString()}–${new Date(r.endMs).toISOString()}, line_item=${r.lineItem ?? 'null'}, project_id=${r.projectId ?? 'null'}, shape=${r.shape}`

/**
 * Names two rows of the request that overlap in time with different (start, end): per provider account,
 * each distinct (start, end) once, sorted, against the latest end before it — O(n log n). It compared every
 * row with every later row starting before its end, skipping the other accounts' rows and its own
 * interval's: a cost CSV of two organisations' line items on one day (20,000 rows each, 1.3 MB) held the
 * event loop for minutes before its 409.
 */
function overlapWithin(rows: readonly IndexedBilledRow[], refKind: 'index' | 'line'): Error {
  const intervals = new Map<string, IndexedBilledRow>()
  for (const r of rows) {
    const key = JSON.stringify([r.row.provider, r.row.accountId, r.row.startMs, r.row.endMs])
    const first = intervals.get(key)
    if (!first || r.ref < first.ref) intervals.set(key, r)
  }
  const byAccount = new Map<string, IndexedBilledRow[]>()
  for (const r of intervals.values()) {
    const key = JSON.stringify([r.row.provider, r.row.accountId])
    const list = byAccount.get(key)
    if (list) list.push(r)
    else byAccount.set(key, [r])
  }
  for (const list of byAccount.values()) {
    list.sort((a, b) => a.row.startMs - b.row.startMs || a.row.endMs - b.row.endMs)
    // Distinct intervals sorted by start: one overlaps an earlier one iff it starts before their latest end.
    let latest: IndexedBilledRow | undefined
    for (const b of list) {
      if (latest && b.row.startMs < latest.row.endMs) {
        const [a, c] = latest.ref < b.ref ? [latest, b] : [b, latest]
        return problems.conflict(`the cost at ${refKind} ${a.ref} (${describe(a.row)}) overlaps the cost at ${refKind} ${c.ref} (${describe(c.row)}): ${RULE}`, [
          { [refKind]: c.ref, path: 'start_time', message: `overlaps the cost at ${refKind} ${a.ref}` },
        ])
      }
      if (!latest || b.row.endMs > latest.row.endMs) latest = b
    }
  }
  return problems.conflict(`costs of this request overlap: ${RULE}`)
}

async function store(db: Db, target: BilledCostsTarget, source: string, refKind: 'index' | 'line', parsed: ParsedCosts): Promise<BilledCostsResult> {
  if (parsed.problems.length) throw problems.validation(parsed.problems, parsed.usageResults ? usageBodyDetail(parsed.usageResults) : undefined)
  const rows = await mergeByKey(parsed.rows)
  const check = await checkShapes(
    rows.map((r) => ({ dims: r.row, kind: 'costs' })),
    declaredBilledShape(target.groupBy),
  )
  if (check.overlapping) throw overlapWithin(rows, refKind)
  const counts = await retryTransient(() =>
    db.transaction(async (tx) => {
      // The check and the write under the accounts' locks (the bucket writers' own), so concurrent
      // imports of another shape either see these rows or wait for them.
      await lockAccountsOf(tx, target.tenantId, rows.map((r) => r.row))
      const clash = await findBilledClash(tx, target.tenantId, check.shapes)
      if (clash) {
        const shape = check.shapes[clash.shape_no - 1]!
        const row = rows.find((r) => r.row.startMs === shape.startMs && r.row.endMs === shape.endMs && r.row.accountId === shape.accountId && r.row.provider === shape.provider)!
        const stored = `stored cost ${clash.id} (${clash.start_time.toISOString()}–${clash.end_time.toISOString()}, line_item=${clash.line_item ?? 'null'}, project_id=${clash.project_id ?? 'null'}, shape=${clash.shape})`
        throw problems.conflict(`the cost at ${refKind} ${row.ref} (${describe(row.row)}) overlaps ${stored}: ${RULE}`, [
          { [refKind]: row.ref, path: 'start_time', message: `overlaps ${stored}` },
        ])
      }
      return upsertBilledCosts(tx, target.tenantId, source, rows)
    }),
  )
  return { received: parsed.received, skipped: parsed.skipped, ...counts, unchanged: rows.length - counts.created - counts.replaced }
}

/**
 * Stores a cost report: a parsed JSON body (OpenAI Costs API page(s) or Anthropic cost_report page(s))
 * or a readable OpenAI cost export CSV.
 */
export async function ingestBilledCosts(db: Db, target: BilledCostsTarget, body: unknown): Promise<BilledCostsResult> {
  const defaults = { provider: target.provider, accountId: target.accountId }
  if (body instanceof Readable) return store(db, target, 'openai_csv', 'line', await parseCostCsv(body, defaults))
  const single = typeof body === 'object' && body !== null && !Array.isArray(body) ? usageResult(body as Record<string, unknown>, false) : undefined
  if (single) throw problems.validation([{ path: '', message: `the body is ${notCosts(single)}` }], usageBodyDetail(1))
  if (!isCostPagesBody(body))
    throw problems.validation(
      [{ path: '', message: 'expected an OpenAI costs page, an Anthropic cost_report page (objects with a data array), an array of pages, or a text/csv cost export' }],
      'the body is not a cost report',
    )
  return store(db, target, isAnthropicCostBody(body) ? 'anthropic_api' : 'openai_api', 'index', await parseCostPages(body, defaults))
}
