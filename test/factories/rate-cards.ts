import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { admin, uniqueId } from '../helpers.js'

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
