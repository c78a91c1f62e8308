import type { LightMyRequestResponse } from 'fastify'
import t from 'tap'
import { admin, bearer, build, eachEngine, isProblem, tenantWithKey, uniqueId } from '../helpers.js'
import { INSTANT_CASES, type InstantCase } from '../factories/instants.js'

/**
 * One table of instants (test/factories/instants.ts), fed to every entry point that takes a time: each
 * must accept exactly the rows the contract accepts and refuse the others as a 4xx naming the field
 * (GraphQL: BAD_USER_INPUT; events: that event rejected).
 */
const LATER = '9999-06-01T00:00:00Z'
type Verdict = 'accepted' | 'refused' | string

const inQuery = (v: string | number) => encodeURIComponent(String(v))
const gqlLiteral = (v: string | number) => (typeof v === 'number' ? String(v) : JSON.stringify(v))

/** A REST answer → its verdict; anything but 2xx or a 400 problem naming `field` is reported as is. */
function restVerdict(res: LightMyRequestResponse, field: string): Verdict {
  if (res.statusCode < 300) return 'accepted'
  if (res.statusCode === 400 && isProblem(res) && res.body.includes(field)) return 'refused'
  return `${res.statusCode} ${res.body.slice(0, 300)}`
}

function graphqlVerdict(res: LightMyRequestResponse): Verdict {
  const body = res.json() as { data?: unknown; errors?: { extensions?: { code?: string } }[] }
  if (!body.errors) return 'accepted'
  if (body.errors.every((e) => e.extensions?.code === 'BAD_USER_INPUT')) return 'refused'
  return `${res.statusCode} ${res.body.slice(0, 300)}`
}

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key, tenantId } = await tenantWithKey(app, ['ingest', 'read'])
  const card = `instants-${tenantId}`
  const cardRes = await app.inject({ method: 'PUT', url: `/v1/rate-cards/${card}`, headers: { ...admin, 'x-tenant-id': tenantId }, payload: {} })
  t.equal(cardRes.statusCode, 201)
  const h = bearer(key)
  const graphql = (query: string, variables: Record<string, unknown> = {}) =>
    app.inject({ method: 'POST', url: '/graphql', headers: h, payload: { query, variables } })

  /** A CSV upload of one row to `path` (a fresh account each, so no two probes share a natural key). */
  const csvVerdict = async (path: string, csv: string, field: string) =>
    restVerdict(
      await app.inject({ method: 'POST', url: `${path}?account_id=${uniqueId('a')}`, headers: { ...h, 'content-type': 'text/csv' }, payload: csv }),
      field,
    )

  // `near`: an hour after and before the instant probed (or a valid one, when it is refused), for the entry
  // points that bound a span — a billed cost covers at most 31 days.
  const entryPoints: Record<string, (v: string | number, near: { after: string; before: string }) => Promise<Verdict>> = {
    'bucket start_time (JSON)': async (v) =>
      restVerdict(
        await app.inject({
          method: 'POST',
          url: '/v1/usage/buckets',
          headers: h,
          payload: { buckets: [{ start_time: v, end_time: LATER, model: 'm', account_id: uniqueId('a'), input_tokens: 1 }] },
        }),
        'start_time',
      ),
    'bucket end_time (OpenAI page)': async (v) =>
      restVerdict(
        await app.inject({
          method: 'POST',
          url: `/v1/usage/buckets?account_id=${uniqueId('a')}`,
          headers: h,
          payload: { object: 'page', data: [{ start_time: 0, end_time: v, results: [{ object: 'organization.usage.completions.result', model: 'm', input_tokens: 1 }] }] },
        }),
        'end_time',
      ),
    'bucket start_time (CSV)': (v) => csvVerdict('/v1/usage/buckets', `start_time,end_time,model,input_tokens\n${String(v)},253392451200,m,1\n`, 'start_time'),
    'bucket start_time_iso (CSV, start_time blank)': (v) =>
      csvVerdict('/v1/usage/buckets', `start_time,start_time_iso,end_time,model,input_tokens\n,${String(v)},253392451200,m,1\n`, 'start_time_iso'),
    'billed cost start_time (CSV)': (v, near) => csvVerdict('/v1/billing/costs', `start_time,end_time,amount_value\n${String(v)},${near.after},1\n`, 'start_time'),
    'event timestamp': async (v) => {
      const res = await app.inject({ method: 'POST', url: '/v1/usage/events', headers: h, payload: { events: [{ id: uniqueId('e'), timestamp: v, model: 'm', input_tokens: 1 }] } })
      const r = (res.json() as { results?: { status: string; errors?: { path: string }[] }[] }).results?.[0]
      if (r?.status === 'created') return 'accepted'
      if (r?.status === 'rejected' && r.errors?.some((e) => e.path === 'timestamp')) return 'refused'
      return `${res.statusCode} ${res.body.slice(0, 300)}`
    },
    'GraphQL usage(from:) variable': async (v) =>
      graphqlVerdict(
        await graphql('query($from: DateTime!, $to: DateTime!, $card: String) { usage(from: $from, to: $to, window: TOTAL, rateCard: $card) { totals { inputTokens } } }', { from: v, to: LATER, card }),
      ),
    'GraphQL usage(pricingAsOf:) literal': async (v) =>
      graphqlVerdict(
        await graphql(`{ usage(from: "2025-10-01T00:00:00Z", to: "2025-10-02T00:00:00Z", rateCard: "${card}", pricingAsOf: ${gqlLiteral(v)}) { totals { inputTokens } } }`),
      ),
    'REST pricing_as_of': async (v) =>
      restVerdict(await app.inject({ method: 'GET', url: `/v1/organization/usage/completions?start_time=1759276800&pricing_as_of=${inQuery(v)}&rate_card=${card}`, headers: h }), 'pricing_as_of'),
    'DELETE buckets start_time': async (v) =>
      restVerdict(await app.inject({ method: 'DELETE', url: `/v1/usage/buckets?start_time=${inQuery(v)}&end_time=${inQuery(LATER)}&account_id=none`, headers: h }), 'start_time'),
    'billed cost start_time (OpenAI costs page)': async (v, near) =>
      restVerdict(
        await app.inject({
          method: 'POST',
          url: `/v1/billing/costs?account_id=${uniqueId('a')}`,
          headers: h,
          payload: { object: 'page', data: [{ start_time: v, end_time: near.after, results: [{ object: 'organization.costs.result', amount: { value: 1, currency: 'usd' } }] }] },
        }),
        'start_time',
      ),
    'billed cost ending_at (Anthropic cost_report)': async (v, near) =>
      restVerdict(
        await app.inject({
          method: 'POST',
          url: `/v1/billing/costs?account_id=${uniqueId('a')}`,
          headers: h,
          payload: { data: [{ starting_at: near.before, ending_at: v, results: [{ amount: '1', currency: 'USD', model: 'm' }] }] },
        }),
        'ending_at',
      ),
    'DELETE billed costs start_time': async (v) =>
      restVerdict(await app.inject({ method: 'DELETE', url: `/v1/billing/costs?start_time=${inQuery(v)}&end_time=${inQuery(LATER)}&account_id=none`, headers: h }), 'start_time'),
    'GraphQL reconciliation(from:) variable': async (v) =>
      graphqlVerdict(
        await graphql('query($from: DateTime!, $to: DateTime!) { reconciliation(from: $from, to: $to, window: TOTAL) { totals { billed } } }', { from: v, to: LATER }),
      ),
    'REST reconciliation from': async (v) =>
      restVerdict(await app.inject({ method: 'GET', url: `/v1/reconciliation?from=${inQuery(v)}&to=${inQuery(LATER)}&window=total`, headers: h }), 'from'),
    'rate card at': async (v) =>
      restVerdict(await app.inject({ method: 'GET', url: `/v1/rate-cards/${card}/rates?at=${inQuery(v)}`, headers: h }), 'at'),
    'rate effective_from': async (v) =>
      restVerdict(
        await app.inject({
          method: 'POST',
          url: `/v1/rate-cards/${card}/rates`,
          headers: { ...admin, 'x-tenant-id': tenantId },
          payload: { rates: [{ model: uniqueId('m'), effective_from: v, prices: { input: '1' } }] },
        }),
        'effective_from',
      ),
  }

  for (const [name, probe] of Object.entries(entryPoints)) {
    t.test(name, async (t) => {
      for (const c of INSTANT_CASES as InstantCase[]) {
        // A querystring cannot tell a JSON number from its digits; both rows are still asked.
        const expected = c.ms === null ? 'refused' : 'accepted'
        const at = c.ms ?? Date.UTC(2025, 9, 1)
        const near = { after: new Date(at + 3_600_000).toISOString(), before: new Date(at - 3_600_000).toISOString() }
        t.equal(await probe(c.input, near), expected, `${c.why}: ${JSON.stringify(c.input)}`)
      }
    })
  }
})
