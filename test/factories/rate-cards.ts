import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import type { Test } from 'tap'
import { admin, bearer, uniqueId } from '../helpers.js'

type Headers = Record<string, string>

/** Creates an empty rate card (global with the admin token, a tenant's own with `x-tenant-id`) and returns its name. */
export async function newCard(app: FastifyInstance, headers: Headers = admin, name = uniqueId('card')): Promise<string> {
  const res = await app.inject({ method: 'PUT', url: `/v1/rate-cards/${name}`, headers, payload: {} })
  if (res.statusCode !== 201) throw new Error(`card ${name}: ${res.statusCode} ${res.body}`)
  return name
}

/** `POST /v1/rate-cards/{card}/rates` with these rates, answered as it is (the caller checks the status). */
export const postRates = (app: FastifyInstance, card: string, rates: unknown[], headers: Headers = admin): Promise<LightMyRequestResponse> =>
  app.inject({ method: 'POST', url: `/v1/rate-cards/${card}/rates`, headers, payload: { rates } })

export interface CostOut { total: string; complete: boolean }

/** GraphQL `usage` rows' costs on a card (`rateCard` default: "default"), priced as the card stood at `asOf` when given. */
export async function usageCosts(
  t: Test,
  app: FastifyInstance,
  key: string,
  q: { from: string; to: string; window: 'TOTAL' | 'MONTH'; rateCard?: string; asOf?: string | undefined },
): Promise<CostOut[]> {
  const as = q.asOf ? `, pricingAsOf: "${q.asOf}"` : ''
  const res = await app.inject({
    method: 'POST',
    url: '/graphql',
    headers: bearer(key),
    payload: { query: `{ usage(from: "${q.from}", to: "${q.to}", window: ${q.window}, rateCard: "${q.rateCard ?? 'default'}"${as}) { rows { cost { total complete } } } }` },
  })
  t.equal(res.json().errors, undefined, res.body.slice(0, 300))
  return (res.json().data.usage.rows as { cost: CostOut }[]).map((r) => r.cost)
}
