import { Decimal } from 'decimal.js'
import type { FastifyInstance } from 'fastify'
import { admin, bearer } from '../helpers.js'

/**
 * An independent decimal.js oracle for pricing token buckets and resource rows (contract v2 "Pricing,
 * extended"), written from the contract's text and sharing no code with src/pricing: one rate per row
 * (model exact → longest prefix → `*`, then context tier match over none, then geo match over none),
 * tokens × price × 0.000001, resources × unit price (the match with most attributes), storage per
 * GiB-day rounded half-even to 18 places per stored bucket.
 */

const D = Decimal.clone({ precision: 200, rounding: Decimal.ROUND_HALF_EVEN })
type Dec = InstanceType<typeof D>

/** Token classes of a row, in the stored names, and the rate price that prices each. */
export const CLASS_PRICES = {
  in_text: 'input',
  in_audio: 'input_audio',
  in_image: 'input_image',
  cached_text: 'cached_input',
  cached_audio: 'cached_input_audio',
  cached_image: 'cached_input_image',
  cache_write: 'cache_write',
  cache_write_1h: 'cache_write_1h',
  out_text: 'output',
  out_audio: 'output_audio',
  out_image: 'output_image',
} as const
export type ClassName = keyof typeof CLASS_PRICES
export type TokenClasses = Partial<Record<ClassName, number>>

export interface TestRate {
  provider: string
  model: string
  service_tier?: string
  batch?: boolean
  context_tier?: string | null
  inference_geo?: string | null
  prices: Partial<Record<(typeof CLASS_PRICES)[ClassName], string>>
  unit_prices?: { resource: string; attributes?: Record<string, string>; price: string }[]
}

export interface OracleRow {
  provider: string
  model: string | null
  serviceTier?: string
  batch?: boolean
  contextTier?: string | null
  inferenceGeo?: string | null
  /** Token rows: the classes; resource rows: undefined. */
  classes?: TokenClasses
  resource?: string
  attributes?: Record<string, string>
  quantity?: string
  /** Bucket length in seconds (storage). */
  seconds?: number
}

export interface OracleCost {
  total: Dec
  resources: Dec
  unpricedTokens: number
  /** Unpriced quantity per resource. */
  unpriced: Map<string, Dec>
  /** Quantity (GiB-hours for storage) per resource. */
  quantity: Map<string, Dec>
  tokens: number
}

const emptyCost = (): OracleCost => ({ total: new D(0), resources: new D(0), unpricedTokens: 0, unpriced: new Map(), quantity: new Map(), tokens: 0 })

export function pickRate(row: OracleRow, rates: readonly TestRate[]): TestRate | undefined {
  const model = row.model
  const fits = rates.filter(
    (r) =>
      r.provider === row.provider &&
      (r.service_tier ?? 'default') === (row.serviceTier ?? 'default') &&
      (r.batch ?? false) === (row.batch ?? false) &&
      (r.model === '*' || r.model === model || (r.model.endsWith('*') && model !== null && model.startsWith(r.model.slice(0, -1)))) &&
      (r.context_tier == null || r.context_tier === row.contextTier) &&
      (r.inference_geo == null || r.inference_geo === row.inferenceGeo),
  )
  const score = (r: TestRate) => [r.model === model ? 1 : 0, r.model.length, r.context_tier != null ? 1 : 0, r.inference_geo != null ? 1 : 0]
  fits.sort((a, b) => {
    const sa = score(a)
    const sb = score(b)
    for (let i = 0; i < sa.length; i++) if (sa[i] !== sb[i]) return sb[i]! - sa[i]!
    return 0
  })
  return fits[0]
}

function unitPrice(row: OracleRow, rate: TestRate | undefined): Dec | undefined {
  const matches = (rate?.unit_prices ?? []).filter(
    (u) => u.resource === row.resource && Object.entries(u.attributes ?? {}).every(([k, v]) => row.attributes?.[k] === v),
  )
  matches.sort((a, b) => Object.keys(b.attributes ?? {}).length - Object.keys(a.attributes ?? {}).length)
  return matches[0] ? new D(matches[0].price) : undefined
}

const GIB = new D(2).pow(30)
const round18 = (x: Dec) => x.toDecimalPlaces(18, Decimal.ROUND_HALF_EVEN)

function add(m: Map<string, Dec>, k: string, v: Dec) {
  m.set(k, (m.get(k) ?? new D(0)).plus(v))
}

/** Adds one row's cost into `acc`. */
function addRow(acc: OracleCost, row: OracleRow, rates: readonly TestRate[]): OracleCost {
  const rate = pickRate(row, rates)
  if (row.classes) {
    for (const [cls, n] of Object.entries(row.classes) as [ClassName, number][]) {
      if (!n) continue
      acc.tokens += n
      const price = row.model === null ? undefined : rate?.prices[CLASS_PRICES[cls]]
      if (price === undefined) acc.unpricedTokens += n
      else acc.total = acc.total.plus(new D(n).times(price).times('0.000001'))
    }
    return acc
  }
  const resource = row.resource!
  const price = unitPrice(row, rate)
  const storage = resource === 'storage_bytes'
  const byteSeconds = new D(row.quantity!).times(row.seconds ?? 0)
  const qty = storage ? round18(byteSeconds.div(GIB.times(3600))) : new D(row.quantity!)
  add(acc.quantity, resource, qty)
  if (price === undefined) {
    if (qty.gt(0)) add(acc.unpriced, resource, qty)
    return acc
  }
  const cost = storage ? round18(byteSeconds.times(price).div(GIB.times(86400))) : new D(row.quantity!).times(price)
  acc.total = acc.total.plus(cost)
  acc.resources = acc.resources.plus(cost)
  return acc
}

export const costOf = (rows: readonly OracleRow[], rates: readonly TestRate[]) => rows.reduce((acc, r) => addRow(acc, r, rates), emptyCost())

/** Plain decimal text as the API writes it. */
export const text = (d: Dec) => d.toFixed()

/** The unpriced quantities as the API lists them. */
export const unpricedList = (c: OracleCost) =>
  [...c.unpriced.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([resource, q]) => ({ resource, quantity: q.toFixed() }))

/** A private card of the tenant holding `rates` (all effective from 2000). */
export async function createTestCard(app: FastifyInstance, tenantId: string, card: string, rates: readonly TestRate[]): Promise<void> {
  const h = { ...admin, 'x-tenant-id': tenantId }
  const c = await app.inject({ method: 'PUT', url: `/v1/rate-cards/${card}`, headers: h, payload: { description: 'resources test' } })
  if (c.statusCode !== 201) throw new Error(`card: ${c.statusCode} ${c.body}`)
  const r = await app.inject({
    method: 'POST',
    url: `/v1/rate-cards/${card}/rates`,
    headers: h,
    payload: { rates: rates.map((x) => ({ ...x, effective_from: '2000-01-01T00:00:00Z' })) },
  })
  if (r.statusCode !== 201) throw new Error(`rates: ${r.statusCode} ${r.body}`)
}

export const COST_FIELDS = 'total input cachedInput cacheWrite output resources complete unpricedTokens unpricedQuantity { resource quantity }'

/** Runs a GraphQL query with the tenant key; fails loudly on errors. */
export async function gql<T>(app: FastifyInstance, key: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const res = await app.inject({ method: 'POST', url: '/graphql', headers: bearer(key), payload: { query, variables } })
  const body = res.json() as { data?: T; errors?: unknown }
  if (res.statusCode !== 200 || body.errors) throw new Error(`graphql ${res.statusCode}: ${res.body}`)
  return body.data!
}

export interface ApiCost {
  total: string
  resources: string
  complete: boolean
  unpricedTokens: number
  unpricedQuantity: { resource: string; quantity: string }[]
}
export interface ApiRow {
  provider: string | null
  model: string | null
  resource: string | null
  quantity: string | null
  inputTokens: number
  outputTokens: number
  cost: ApiCost
}

/** What one API row (or the totals) must say, from the oracle's cost of its rows. */
export function expectedRow(c: OracleCost, resource: string | null) {
  return {
    total: text(c.total),
    resources: text(c.resources),
    complete: c.unpricedTokens === 0 && c.unpriced.size === 0,
    unpricedTokens: c.unpricedTokens,
    unpricedQuantity: unpricedList(c),
    quantity: resource === null || resource === 'tokens' ? null : text(c.quantity.get(resource) ?? new D(0)),
    tokens: c.tokens,
  }
}

export const apiRow = (r: ApiRow) => ({
  total: r.cost.total,
  resources: r.cost.resources,
  complete: r.cost.complete,
  unpricedTokens: r.cost.unpricedTokens,
  unpricedQuantity: r.cost.unpricedQuantity,
  quantity: r.quantity,
  tokens: r.inputTokens + r.outputTokens,
})

/** The oracle's rows grouped by (provider, model, resource), as `usage(groupBy: [PROVIDER, MODEL, RESOURCE])` lists them. */
export function expectedByProviderModelResource(rows: readonly OracleRow[], rates: readonly TestRate[]) {
  const groups = new Map<string, OracleRow[]>()
  for (const r of rows) {
    const k = JSON.stringify([r.provider, r.model, r.resource ?? 'tokens'])
    groups.set(k, [...(groups.get(k) ?? []), r])
  }
  return Object.fromEntries([...groups].map(([k, rs]) => [k, expectedRow(costOf(rs, rates), (JSON.parse(k) as string[])[2]!)]))
}

export const rowKey = (r: ApiRow) => JSON.stringify([r.provider, r.model, r.resource])

export const USAGE_PMR = `query($from: DateTime!, $to: DateTime!, $card: String!) {
  usage(from: $from, to: $to, window: TOTAL, groupBy: [PROVIDER, MODEL, RESOURCE], rateCard: $card, first: 1000) {
    rows { provider model resource quantity inputTokens outputTokens cost { ${COST_FIELDS} } }
    totals { inputTokens outputTokens cost { ${COST_FIELDS} } }
  }
}`

/** A stored resource row, for seeding query tests directly (ingest has its own tests). */
export interface SeedResource {
  start: Date
  end: Date
  provider?: string
  accountId?: string | null
  projectId?: string | null
  model: string | null
  serviceTier?: string
  batch?: boolean | null
  contextTier?: string | null
  inferenceGeo?: string | null
  resource: string
  attributes?: Record<string, string>
  quantity: string
  source?: string
}

export async function seedResources(db: { query: (q: string, p?: unknown[]) => Promise<unknown[]> }, tenantId: string, rows: readonly SeedResource[]): Promise<void> {
  for (const r of rows)
    await db.query(
      `insert into usage_resources (tenant_id, provider, account_id, start_time, end_time, project_id, model, service_tier, batch,
         context_tier, inference_geo, resource, attributes, quantity, source)
       values ($1, $2, $3, $4::timestamptz, $5::timestamptz, $6, $7, $8, $9, $10, $11, $12, $13::text::jsonb, $14::numeric, $15)`,
      [tenantId, r.provider ?? 'openai', r.accountId ?? null, r.start.toISOString(), r.end.toISOString(), r.projectId ?? null, r.model,
        r.serviceTier ?? 'default', r.batch ?? null, r.contextTier ?? null, r.inferenceGeo ?? null, r.resource,
        JSON.stringify(r.attributes ?? {}), r.quantity, r.source ?? 'api'],
    )
}
