import { BILLED_DETAIL_COLUMNS, billedCostResults, firstBilledBucket, type BilledCostsResult } from '../../billing/billed-report.js'
import type { Db } from '../../db/client.js'
import { problems } from '../../errors.js'
import { bucketsFrom, COSTS_LIMITS, encodePage, paramsHash, planRange, type RangeParams } from './buckets.js'
import { csvLine, isoSeconds } from './csv-lines.js'
import { COSTS_CSV_COLUMNS } from './cost-results.js'

/**
 * `cost_source=billed`: the provider's billed costs (POST /v1/billing/costs) in the costs page shape,
 * with OpenAI's bucket arithmetic, limits and cursors — instead of the ledger's computed cost.
 */

interface BilledRequest {
  tenantId: string
  /** The costs endpoint's parameters (every one of them binds the cursor). */
  query: RangeParams & Record<string, unknown> & { group_by?: string[] | undefined; project_ids?: string[] | undefined; api_key_ids?: string[] | undefined }
  signal?: AbortSignal | undefined
}

function plan(r: BilledRequest, now: Date) {
  const { plan, problems: found } = planRange(r.query, paramsHash(r.query), 86_400, COSTS_LIMITS, now)
  if (!plan) throw problems.invalidParameters(found)
  return plan
}

async function read(db: Db, r: BilledRequest, start: number, end: number, width: number, count: number, forExport = false) {
  const { buckets, next } = bucketsFrom(start, end, width, count)
  const groupBy = new Set(r.query.group_by ?? [])
  const results = buckets.length
    ? await billedCostResults(db, {
      tenantId: r.tenantId,
      from: buckets[0]!.start,
      to: buckets.at(-1)!.end,
      width,
      groupBy: { projectId: groupBy.has('project_id'), lineItem: groupBy.has('line_item'), apiKeyId: groupBy.has('api_key_id'), accountId: forExport, detail: forExport },
      projectIds: r.query.project_ids,
      apiKeyIds: r.query.api_key_ids,
      signal: r.signal,
    })
    : new Map<number, BilledCostsResult[]>()
  return { buckets: buckets.map((b) => ({ ...b, results: results.get(b.start) ?? [] })), next }
}

export async function billedCostsPage(db: Db, r: BilledRequest, now = new Date()) {
  const p = plan(r, now)
  const { buckets, next } = await read(db, r, p.start, p.end, p.width, p.limit)
  return {
    object: 'page' as const,
    data: buckets.map((b) => ({ object: 'bucket' as const, start_time: b.start, end_time: b.end, results: b.results })),
    has_more: next !== null,
    next_page: next === null ? null : encodePage(next, p.asOf, p.hash),
    sources: ['billed'],
  }
}

/**
 * The whole range as the cost export's CSV, a chunk of days at a time, so that it can be posted back to
 * POST /v1/billing/costs and store the same costs: `organization_id` is the provider account each row was
 * billed to (the import reads it as the account; empty when unknown — never the tenant, whose id re-imported
 * would become an account), so rows are split by account as well as by the `group_by` fields;
 * `organization_name` is empty (the ledger keeps no provider organization names); `quantity` is exact.
 * The trailing columns (`provider`, `model`, `token_type`, `cost_type`, `service_tier`, `batch`,
 * `context_tier`, `inference_geo`) are the rest of each cost's natural key, which OpenAI's columns cannot
 * carry: without them an Anthropic cost came back as an OpenAI one with no model or token type.
 */
export function billedCostsCsv(db: Db, r: BilledRequest, now = new Date()): AsyncGenerator<string> {
  // Planned before the first byte is sent, so bad parameters are still a 400.
  return csvChunks(db, r, plan(r, now))
}

/**
 * A cost's own start and end in the export's four time columns. The unix columns take whole seconds only
 * (the import reads digits), so a cost stored to the millisecond is written in the ISO columns alone.
 */
function spanCells(span: { start: number; end: number }): (number | string | null)[] {
  const whole = Number.isInteger(span.start) && Number.isInteger(span.end)
  if (whole) return [span.start, span.end, isoSeconds(span.start), isoSeconds(span.end)]
  const iso = (s: number) => new Date(Math.round(s * 1000)).toISOString()
  return [null, null, iso(span.start), iso(span.end)]
}

async function* csvChunks(db: Db, r: BilledRequest, p: ReturnType<typeof plan>): AsyncGenerator<string> {
  yield csvLine([...COSTS_CSV_COLUMNS, ...BILLED_DETAIL_COLUMNS])
  // Days without costs write no line, so the range is read from one stored cost to the next: unskipped, an
  // export from 1970 to 9999 ran 16,000 empty statements, however few costs it held.
  const nextFrom = (from: number | null) => (from === null ? null : firstBilledBucket(db, { tenantId: r.tenantId, from, to: p.end, width: p.width, signal: r.signal }))
  let start = await nextFrom(p.start)
  while (start !== null) {
    const { buckets, next } = await read(db, r, start, p.end, p.width, COSTS_LIMITS[1], true)
    let chunk = ''
    for (const b of buckets)
      for (const x of b.results)
        chunk += csvLine([...spanCells(x.span ?? b), x.amount.value_exact, 'usd', x.line_item, x.project_id, x.account_id ?? null, null, x.api_key_id, x.quantity_exact, x.quantity_unit, 'true', 0,
          ...BILLED_DETAIL_COLUMNS.map((c) => x.detail?.[c] ?? null)])
    if (chunk) yield chunk
    start = await nextFrom(next)
  }
}
