// Row 11, the REST mirrors against GraphQL (issue #14 §1: "the REST mirrors ≤ 1.2× GraphQL for the same
// shape"): the 30-day completions mirror grouped by model and project, and the costs mirror by line item
// and project, each read page by page (OpenAI's default limit, following next_page, JSON) as an SDK does,
// beside GraphQL `usage` of the same grouping (all pages), interleaved. Both must give the same numbers.
import { Decimal } from 'decimal.js'
import type { Dimension } from '../../src/usage/dimensions.js'
import { RANGE } from './data.js'
import { type Metric, median, timeIt } from './metrics.js'
import type { Ctx } from './rows.js'

interface MirrorCase {
  name: string
  path: string
  params: Record<string, string | string[]>
  /** GraphQL grouping of the same shape. */
  groupBy: Dimension[]
  /** The comparable numbers of a mirror result and of a GraphQL row: day|project|model… → figures. */
  mirrorKey: (start: number, r: Record<string, unknown>) => string
  gqlKey: (r: GqlRow) => string
  mirrorValue: (r: Record<string, unknown>) => string[]
  gqlValue: (r: GqlRow) => string[]
}

interface GqlRow {
  windowStart: string
  projectId: string | null
  model: string | null
  inputTokens: number
  outputTokens: number
  cost: { total: string }
}

const unix = (iso: string) => Math.floor(Date.parse(iso) / 1000)

const CASES: MirrorCase[] = [
  {
    name: 'completions?group_by=model,project_id',
    path: '/v1/organization/usage/completions',
    params: { group_by: ['model', 'project_id'] },
    groupBy: ['MODEL', 'PROJECT'],
    mirrorKey: (s, r) => `${s * 1000}|${String(r.model)}|${String(r.project_id)}`,
    gqlKey: (r) => `${Date.parse(r.windowStart)}|${String(r.model)}|${String(r.projectId)}`,
    mirrorValue: (r) => [String(r.input_tokens), String(r.output_tokens), (r.cost as { value_exact: string }).value_exact],
    gqlValue: (r) => [String(r.inputTokens), String(r.outputTokens), r.cost.total],
  },
  {
    // A line item is (model, tier, batch, resource) × token class: compared per day and project.
    name: 'costs?group_by=line_item,project_id',
    path: '/v1/organization/costs',
    params: { group_by: ['line_item', 'project_id'] },
    groupBy: ['MODEL', 'SERVICE_TIER', 'BATCH', 'RESOURCE', 'PROJECT'],
    mirrorKey: (s, r) => `${s * 1000}|${String(r.project_id)}`,
    gqlKey: (r) => `${Date.parse(r.windowStart)}|${String(r.projectId)}`,
    mirrorValue: (r) => [(r.amount as { value_exact: string | null }).value_exact ?? '0'],
    gqlValue: (r) => [r.cost.total],
  },
]

type Sums = Map<string, Decimal[]>

function add(sums: Sums, key: string, values: string[]) {
  const prev = sums.get(key)
  sums.set(key, values.map((v, i) => (prev?.[i] ?? new Decimal(0)).plus(v)))
}

const text = (sums: Sums) => [...sums].map(([k, v]) => `${k}|${v.map((d) => d.toFixed()).join('|')}`).sort()

async function getJson(ctx: Ctx, url: string, init?: RequestInit): Promise<unknown> {
  const res = await fetch(url, { ...init, headers: { authorization: `Bearer ${ctx.keys.bench}`, ...init?.headers } })
  const body = await res.json()
  if (res.status !== 200) throw new Error(`${url.slice(0, 200)}: ${res.status} ${JSON.stringify(body).slice(0, 300)}`)
  return body
}

/**
 * Every page of the mirror, following next_page; returns the sums (when `sums` is given) and the page count.
 * The timed runs pass none: they do what an SDK does (fetch and parse each page), not the harness's exact
 * decimal sums, which cost the client ~7 ms for 4,200 line items against ~2 ms for GraphQL's 1,500 rows.
 */
async function mirror(ctx: Ctx, c: MirrorCase, sums?: Sums): Promise<{ pages: number; results: number }> {
  let page: string | null = null
  let pages = 0
  let results = 0
  do {
    const q = new URLSearchParams({ start_time: String(unix(RANGE.from)), end_time: String(unix(RANGE.to)), bucket_width: '1d' })
    for (const [k, v] of Object.entries(c.params)) for (const x of [v].flat()) q.append(k, x)
    if (page) q.set('page', page)
    const body = (await getJson(ctx, `${ctx.server.url}${c.path}?${q}`)) as {
      data: { start_time: number; results: Record<string, unknown>[] }[]
      next_page: string | null
    }
    pages++
    for (const b of body.data) {
      results += b.results.length
      if (sums) for (const r of b.results) add(sums, c.mirrorKey(b.start_time, r), c.mirrorValue(r))
    }
    page = body.next_page
  } while (page)
  return { pages, results }
}

const QUERY = `query($from: DateTime!, $to: DateTime!, $groupBy: [UsageDimension!], $after: String) {
  usage(from: $from, to: $to, window: DAY, timeZone: "UTC", groupBy: $groupBy, rateCard: "default", first: 1000, after: $after) {
    rows { windowStart projectId model inputTokens outputTokens cost { total } }
    pageInfo { hasNextPage endCursor } } }`

/** Every page of GraphQL `usage` of the same grouping; sums as `mirror`'s. */
async function graphql(ctx: Ctx, c: MirrorCase, sums?: Sums): Promise<{ pages: number; rows: number }> {
  let after: string | null = null
  let pages = 0
  let rows = 0
  for (;;) {
    const body = (await getJson(ctx, `${ctx.server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: QUERY, variables: { from: RANGE.from, to: RANGE.to, groupBy: c.groupBy, after } }),
    })) as { errors?: unknown; data?: { usage: { rows: GqlRow[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } } }
    if (body.errors || !body.data) throw new Error(`GraphQL ${c.name}: ${JSON.stringify(body.errors).slice(0, 500)}`)
    pages++
    rows += body.data.usage.rows.length
    if (sums) for (const r of body.data.usage.rows) add(sums, c.gqlKey(r), c.gqlValue(r))
    if (!body.data.usage.pageInfo.hasNextPage) return { pages, rows }
    after = body.data.usage.pageInfo.endCursor
  }
}

export async function benchMirrors(ctx: Ctx, repeats: number): Promise<Metric[]> {
  const metrics: Metric[] = []
  for (const c of CASES) {
    ctx.log(`[${ctx.engine}] row 11: ${c.name}`)
    const mirrorSums: Sums = new Map()
    const gqlSums: Sums = new Map()
    const m = await mirror(ctx, c, mirrorSums)
    const g = await graphql(ctx, c, gqlSums)
    const [a, b] = [text(mirrorSums), text(gqlSums)]
    if (a.join('\n') !== b.join('\n') || a.length === 0) {
      const diff = a.filter((x) => !b.includes(x)).slice(0, 3)
      throw new Error(`row 11 ${c.name}: the mirror (${a.length} keys) differs from GraphQL (${b.length}), e.g. ${diff.join('; ')}`)
    }
    const ours: number[] = []
    const theirs: number[] = []
    for (let i = 0; i < repeats; i++) {
      ours.push(await timeIt(() => mirror(ctx, c)))
      theirs.push(await timeIt(() => graphql(ctx, c)))
    }
    const o = median(ours)
    const t = median(theirs)
    metrics.push({
      row: 11,
      engine: ctx.engine,
      name: `REST ${c.name} 30 d, JSON, all pages (${m.pages} pages, ${m.results} results), p50`,
      value: o,
      unit: 'ms',
      baseline: t,
      baselineName: `GraphQL usage DAY × (${c.groupBy.join(', ')}), all pages (${g.pages} pages, ${g.rows} rows)`,
      ratio: o / t,
      target: '≤ 1.2×',
      met: o / t <= 1.2,
      details: { pages: m.pages, results: m.results, graphqlPages: g.pages, graphqlRows: g.rows },
    })
  }
  return metrics
}
