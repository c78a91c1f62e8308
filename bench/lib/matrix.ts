// Row 9, the query matrix (issue #14 §1): the 30-day groupings dashboards and billing ask for, each
// through GraphQL (all pages, priced with the default card) beside a raw GROUP BY of the same shape on
// the base table in the same run, in UTC and in a zone whose offset is not a whole hour.
import type { Dimension } from '../../src/usage/dimensions.js'
import { bucketPath } from '../../src/usage/rollups.js'
import type { Window } from '../../src/usage/windows.js'
import { RANGE } from './data.js'
import type { Raw } from './database.js'
import { type Metric, median, timeIt } from './metrics.js'
import type { Ctx } from './rows.js'

export interface Shape {
  window: Window
  groupBy: Dimension[]
}

export const MATRIX_SHAPES: Shape[] = [
  { window: 'DAY', groupBy: ['MODEL'] },
  { window: 'DAY', groupBy: ['PROJECT'] },
  { window: 'TOTAL', groupBy: ['PROJECT'] },
  { window: 'TOTAL', groupBy: ['API_KEY'] },
  { window: 'DAY', groupBy: ['USER'] },
  { window: 'HOUR', groupBy: ['MODEL'] },
  { window: 'MONTH', groupBy: ['PROJECT', 'MODEL'] },
  { window: 'WEEK', groupBy: ['PROJECT'] },
  { window: 'HOUR', groupBy: ['PROJECT'] },
  { window: 'TOTAL', groupBy: ['MODEL', 'SERVICE_TIER', 'BATCH'] },
  { window: 'TOTAL', groupBy: ['PROJECT', 'API_KEY', 'USER', 'MODEL'] },
  { window: 'DAY', groupBy: ['PROVIDER', 'ACCOUNT', 'MODEL'] },
]

/**
 * UTC; New York (whole-hour offsets, with the DST change of 2 November outside the range's end); and
 * Kolkata (UTC+05:30): its window boundaries are off the hour, the hardest case for rollups.
 */
export const MATRIX_ZONES = ['UTC', 'America/New_York', 'Asia/Kolkata'] as const

export interface MatrixCase extends Shape {
  timeZone: string
}

let zones: readonly string[] = MATRIX_ZONES

/** Restricts row 9 to some of MATRIX_ZONES (--matrix-zones; a 10M run of every zone takes hours). */
export function limitMatrixZones(only: string[]): void {
  const unknown = only.filter((z) => !(MATRIX_ZONES as readonly string[]).includes(z))
  if (unknown.length) throw new Error(`--matrix-zones: not a matrix zone: ${unknown.join(', ')} (one of ${MATRIX_ZONES.join(', ')})`)
  zones = only
}

/** The zones row 9 runs in (all of MATRIX_ZONES unless --matrix-zones). */
export const matrixZones = (): readonly string[] => zones

export const matrixCases = (): MatrixCase[] => zones.flatMap((timeZone) => MATRIX_SHAPES.map((s) => ({ ...s, timeZone })))

type Field = 'projectId' | 'apiKeyId' | 'userId' | 'model' | 'provider' | 'accountId' | 'serviceTier' | 'batch'
const COLUMN: Partial<Record<Dimension, { sql: string; gql: Field }>> = {
  PROJECT: { sql: 'project_id', gql: 'projectId' },
  API_KEY: { sql: 'api_key_id', gql: 'apiKeyId' },
  USER: { sql: 'user_id', gql: 'userId' },
  MODEL: { sql: 'model', gql: 'model' },
  PROVIDER: { sql: 'provider', gql: 'provider' },
  ACCOUNT: { sql: 'account_id', gql: 'accountId' },
  SERVICE_TIER: { sql: 'service_tier', gql: 'serviceTier' },
  BATCH: { sql: 'batch', gql: 'batch' },
}
const col = (d: Dimension) => COLUMN[d] ?? (() => { throw new Error(`matrix: no column for ${d}`) })()

export const caseName = (c: MatrixCase) => `${c.window} × ${c.groupBy.length > 1 ? `(${c.groupBy.join(', ')})` : c.groupBy[0]}, ${c.timeZone}`

/** Which relation the query layer reads for this case (src/usage/rollups.ts: the static rule, then the zone's alignment). */
export function expectedPath(c: MatrixCase): 'hourly rollup' | 'daily rollup' | 'base table' {
  const q = { from: new Date(RANGE.from), to: new Date(RANGE.to), window: c.window, timeZone: c.timeZone, groupBy: c.groupBy, filter: {} }
  const path = bucketPath(q)
  if (path === 'base') return 'base table'
  if (path === 'daily') return 'daily rollup'
  // The bench's buckets all start on the hour, so the hourly rollup serves every zone (off_hour_count 0).
  return 'hourly rollup'
}

/** One group as comparable text: window start (epoch ms), dimension values, input and output sums. */
type Group = string

function rawSql(c: MatrixCase): string {
  const w = c.window === 'TOTAL' ? '$2::timestamptz' : `date_trunc('${c.window.toLowerCase()}', start_time, $4)`
  const dims = c.groupBy.map((d) => col(d).sql)
  return `select (extract(epoch from ${w}) * 1000)::int8::text as w, ${dims.map((d) => `${d}, `).join('')}
      sum(input_tokens)::text as input, sum(output_tokens)::text as output
    from usage_buckets where tenant_id = $1 and start_time >= $2 and start_time < $3 and $4::text is not null
    group by ${['1', ...dims.map((_, i) => String(i + 2))].join(', ')}`
}

export async function rawGroups(raw: Raw, tenant: string, c: MatrixCase): Promise<Group[]> {
  const rows = await raw.rows<Record<string, string | null>>(rawSql(c), [tenant, RANGE.from, RANGE.to, c.timeZone])
  return rows.map((r) => [r.w, ...c.groupBy.map((d) => String(r[col(d).sql])), r.input, r.output].join('|')).sort()
}

const QUERY = `query($from: DateTime!, $to: DateTime!, $window: Window!, $tz: String!, $groupBy: [UsageDimension!], $after: String) {
  usage(from: $from, to: $to, window: $window, timeZone: $tz, groupBy: $groupBy, rateCard: "default", first: 1000, after: $after) {
    rows { windowStart projectId apiKeyId userId model provider accountId serviceTier batch inputTokens outputTokens cost { total } }
    pageInfo { hasNextPage endCursor } } }`

type UsageRowOut = { [F in Field]: string | boolean | null } & {
  windowStart: string
  inputTokens: number
  outputTokens: number
}

/**
 * Every page of the case through GraphQL, as a client would fetch it; returns the groups, the page count
 * and how long the first page took (its statement computes every group; later pages come from its snapshot).
 */
export async function graphqlGroups(ctx: Ctx, c: MatrixCase): Promise<{ groups: Group[]; pages: number; firstPageMs: number }> {
  const groups: Group[] = []
  let after: string | null = null
  let pages = 0
  let firstPageMs = 0
  const started = performance.now()
  for (;;) {
    const res = await fetch(`${ctx.server.url}/graphql`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ctx.keys.bench}`, 'content-type': 'application/json' },
      body: JSON.stringify({ query: QUERY, variables: { from: RANGE.from, to: RANGE.to, window: c.window, tz: c.timeZone, groupBy: c.groupBy, after } }),
    })
    const body = (await res.json()) as { errors?: unknown; data?: { usage: { rows: UsageRowOut[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } } }
    if (body.errors || !body.data) throw new Error(`GraphQL ${caseName(c)}: ${res.status} ${JSON.stringify(body.errors).slice(0, 500)}`)
    if (++pages === 1) firstPageMs = performance.now() - started
    for (const r of body.data.usage.rows)
      groups.push([String(new Date(r.windowStart).getTime()), ...c.groupBy.map((d) => String(r[col(d).gql])), String(r.inputTokens), String(r.outputTokens)].join('|'))
    if (!body.data.usage.pageInfo.hasNextPage) break
    after = body.data.usage.pageInfo.endCursor
  }
  return { groups: groups.sort(), pages, firstPageMs }
}

/** Row 9's raw side when the database cannot be shared with the server (PGlite): measured before it starts. */
export async function rawMatrix(raw: Raw, tenant: string, repeats: number): Promise<Map<string, { groups: Group[]; ms: number }>> {
  const out = new Map<string, { groups: Group[]; ms: number }>()
  for (const c of matrixCases()) {
    const groups = await rawGroups(raw, tenant, c)
    const times: number[] = []
    for (let i = 0; i < repeats; i++) times.push(await timeIt(() => rawGroups(raw, tenant, c)))
    out.set(caseName(c), { groups, ms: median(times) })
  }
  return out
}

/**
 * Row 9. With `raw` (PostgreSQL) each case's GROUP BY is timed interleaved with the GraphQL query; without
 * it (PGlite) the times measured before the server started are used. Each GraphQL answer must equal the
 * raw GROUP BY group for group, or the row fails.
 */
export async function benchMatrix(ctx: Ctx, repeats: number, reference: Map<string, { groups: Group[]; ms: number }> | undefined, raw?: Raw): Promise<Metric[]> {
  const metrics: Metric[] = []
  for (const c of matrixCases()) {
    const name = caseName(c)
    ctx.log(`[${ctx.engine}] row 9: ${name}`)
    const expected = raw ? await rawGroups(raw, 'bench', c) : reference?.get(name)?.groups
    if (!expected) throw new Error(`row 9: no raw reference for ${name}`)
    const first = await graphqlGroups(ctx, c)
    if (first.groups.join('\n') !== expected.join('\n') || expected.length === 0) {
      const diff = first.groups.filter((g) => !expected.includes(g)).slice(0, 3)
      throw new Error(`row 9 ${name}: GraphQL (${first.groups.length} groups) differs from the raw GROUP BY (${expected.length}), e.g. ${diff.join('; ')}`)
    }
    const ours: number[] = []
    const firstPages: number[] = []
    const theirs: number[] = []
    for (let i = 0; i < repeats; i++) {
      const started = performance.now()
      firstPages.push((await graphqlGroups(ctx, c)).firstPageMs)
      ours.push(performance.now() - started)
      if (raw) theirs.push(await timeIt(() => rawGroups(raw, 'bench', c)))
    }
    const o = median(ours)
    const t = raw ? median(theirs) : reference!.get(name)!.ms
    metrics.push({
      row: 9,
      engine: ctx.engine,
      name: `GraphQL usage 30 d ${name} (${expectedPath(c)}; ${expected.length} groups, ${first.pages === 1 ? '1 page' : `${first.pages} pages, the first ${Math.round(median(firstPages)).toLocaleString('en-US')} ms`}), priced, p50`,
      value: o,
      unit: 'ms',
      baseline: t,
      baselineName: 'raw GROUP BY of the same shape on usage_buckets, unpriced',
      ratio: o / t,
      target: '≤ 0.2×',
      met: o / t <= 0.2,
      details: { groups: expected.length, pages: first.pages, path: expectedPath(c), firstPageMs: median(firstPages) },
    })
  }
  return metrics
}
