import { Decimal } from 'decimal.js'
import type { FastifyInstance } from 'fastify'

/**
 * The dashboard's known data set, shared by its browser test and scripts/screenshot.ts: hourly buckets over
 * 14 days of November 2026 across three projects, three provider keys and four models — one of them
 * (`acme-llm-1`) with no price on any card. Hours sit near midnight UTC so that switching the time zone moves
 * usage to other days. Written through POST /v1/usage/buckets, the ingest path every client uses.
 */
export const DASHBOARD_RANGE = { from: '2026-11-01', to: '2026-11-14' } as const

interface Line {
  provider: string
  model: string
  project: string
  key: string
  base: number
  cached?: number
  cacheWrite?: number
  audio?: number
}

const LINES: Line[] = [
  { provider: 'openai', model: 'gpt-4o-mini-2024-07-18', project: 'proj_web', key: 'key_web', base: 900_000, cached: 0.4 },
  { provider: 'openai', model: 'gpt-4.1-2025-04-14', project: 'proj_research', key: 'key_ops', base: 260_000, cached: 0.2 },
  { provider: 'openai', model: 'gpt-audio-2025-08-28', project: 'proj_web', key: 'key_web', base: 40_000, audio: 0.5 },
  { provider: 'anthropic', model: 'claude-sonnet-4-20250514', project: 'proj_batch', key: 'key_ci', base: 180_000, cached: 0.5, cacheWrite: 0.1 },
  { provider: 'acme', model: 'acme-llm-1', project: 'proj_research', key: 'key_ops', base: 120_000 },
]

/** Canonical buckets: for each day, one bucket per line at 02:00 UTC and one at 22:00 UTC. */
function dashboardBuckets(): Record<string, string | number>[] {
  const buckets: Record<string, string | number>[] = []
  for (let day = 1; day <= 14; day++) {
    for (const [i, line] of LINES.entries()) {
      for (const hour of [2, 22]) {
        // Deterministic variation: weekday rhythm and a slow trend, different per line and hour.
        const factor = 1 + ((day * 7 + i * 3 + hour) % 11) / 10 + day / 20
        const input = Math.round(line.base * factor)
        const cached = Math.round(input * (line.cached ?? 0))
        const write = Math.round(input * (line.cacheWrite ?? 0))
        const audio = Math.round((input - cached - write) * (line.audio ?? 0))
        const start = new Date(Date.UTC(2026, 10, day, hour))
        buckets.push({
          start_time: start.toISOString(),
          end_time: new Date(start.getTime() + 3_600_000).toISOString(),
          provider: line.provider,
          model: line.model,
          project_id: line.project,
          api_key_id: line.key,
          num_model_requests: Math.round(input / 2_000),
          input_tokens: input,
          input_cached_tokens: cached,
          input_cache_write_tokens: write,
          input_audio_tokens: audio,
          output_tokens: Math.round(input / 6),
        })
      }
    }
  }
  return buckets
}

/**
 * POSTs through `app.inject` as the admin (or with `headers`), throwing on any answer from 300 up: the seeding
 * step of the dashboard's tests, where a refused setup call must stop the test, not let it read an empty page.
 */
export function poster(app: FastifyInstance, adminToken: string) {
  const admin = { authorization: `Bearer ${adminToken}` }
  return async (url: string, payload: unknown, headers: Record<string, string> = admin): Promise<{ key: string } & Record<string, unknown>> => {
    const res = await app.inject({ method: 'POST', url, headers, payload: payload as Record<string, unknown> })
    if (res.statusCode >= 300) throw new Error(`${url}: ${res.statusCode} ${res.body}`)
    return res.json() as { key: string } & Record<string, unknown>
  }
}

/** A tenant holding the data set and a read key for it. */
export async function seedDashboard(
  app: FastifyInstance,
  adminToken: string,
  tenantId = 'acme-dashboard',
): Promise<{ tenantId: string; readKey: string; ingestKey: string }> {
  const call = poster(app, adminToken)
  await call('/v1/tenants', { id: tenantId, name: 'Acme' })
  const ingest = await call(`/v1/tenants/${tenantId}/api-keys`, { name: 'seed', scopes: ['ingest'] })
  await call('/v1/usage/buckets', { buckets: dashboardBuckets() }, { authorization: `Bearer ${String(ingest.key)}` })
  const read = await call(`/v1/tenants/${tenantId}/api-keys`, { name: 'dashboard', scopes: ['read'] })
  return { tenantId, readKey: String(read.key), ingestKey: String(ingest.key) }
}

export interface BilledDay {
  /** The UTC date billed. */
  day: string
  /** The amount billed; default: what the ledger computes for the provider that day, plus `plus`. */
  amount?: string
  plus?: string
}

/**
 * Bills days as a provider would: one OpenAI costs page (`organization.costs.result`, one day total per bucket)
 * posted to POST /v1/billing/costs. A day's amount defaults to the ledger's own cost of that UTC day for the
 * provider, asked of GraphQL `usage` (so a test makes a MATCH or a MISMATCH without writing any amount down).
 */
export async function billDays(app: FastifyInstance, ingestKey: string, readKey: string, days: BilledDay[], provider = 'openai') {
  const amounts: Record<string, string> = {}
  const query = `query($from: DateTime!, $to: DateTime!, $p: [String!]) { usage(from: $from, to: $to, window: TOTAL,
    filter: { providers: $p }) { totals { cost { total } } } }`
  for (const d of days) {
    const from = `${d.day}T00:00:00Z`
    const to = new Date(Date.parse(from) + 86_400_000).toISOString()
    let amount = d.amount
    if (amount === undefined) {
      const res = await app.inject({ method: 'POST', url: '/graphql', headers: { authorization: `Bearer ${readKey}` },
        payload: { query, variables: { from, to, p: [provider] } } })
      const body = res.json() as { data?: { usage: { totals: { cost: { total: string } } } }; errors?: unknown }
      if (!body.data) throw new Error(`usage ${d.day}: ${res.body}`)
      amount = new Decimal(body.data.usage.totals.cost.total).plus(d.plus ?? '0').toFixed()
    }
    amounts[d.day] = amount
  }
  const page = {
    object: 'page',
    data: days.map((d) => {
      const start = Date.parse(`${d.day}T00:00:00Z`) / 1000
      // A JSON number, as OpenAI sends it; the ledger reads its shortest round-trip decimal (exact here).
      const results = [{ object: 'organization.costs.result', amount: { value: Number(amounts[d.day]), currency: 'usd' }, line_item: null, project_id: null }]
      return { object: 'bucket', start_time: start, end_time: start + 86_400, results }
    }),
    has_more: false,
    next_page: null,
  }
  const res = await app.inject({ method: 'POST', url: `/v1/billing/costs?provider=${provider}`, headers: { authorization: `Bearer ${ingestKey}` }, payload: page })
  if (res.statusCode !== 200) throw new Error(`billing costs: ${res.statusCode} ${res.body}`)
  return amounts
}
