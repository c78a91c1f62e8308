import { compareCodePoints } from '../../code-point-order.js'
import type { FastifyRequest } from 'fastify'
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import {
  getCard,
  insertRates,
  listCards,
  listRates,
  lockCard,
  upsertCard,
  type NewRate,
} from '../../db/queries/rate-cards.js'
import { requireCardChangeable, type CardViewer } from '../../auth/access.js'
import { problems } from '../../errors.js'
import { canonicalPrices } from '../../pricing/prices.js'
import { canonicalUnitPrices } from '../../db/rate-columns.js'
import { checkNewRates } from '../../pricing/rate-checks.js'
import { ratesInForce, resolveModel } from '../../pricing/rate-timeline.js'
import { byCodePoint, problemResponses } from '../shared-schemas.js'
import {
  CardNameSchema,
  cardOut,
  parseTimestamp,
  PostRatesSchema,
  PutCardSchema,
  RateCardSchema,
  RateSchema,
  RatesQuerySchema,
  rateOut,
} from './schemas.js'

const CardParams = z.object({ card: CardNameSchema })
const viewerOf = (req: FastifyRequest): CardViewer => req.cardViewer ?? { kind: 'tenant', tenantId: '' }

const rateCardRoutes: FastifyPluginAsyncZod = async (app) => {
  const reader = app.auth.cards('read')
  const adminHook = app.auth.cards('admin')

  app.put(
    '/rate-cards/:card',
    {
      onRequest: adminHook,
      schema: {
        tags: ['rate-cards'],
        operationId: 'putRateCard',
        summary: 'Create (201) or update (200) a rate card; with X-Tenant-Id it is private to that tenant',
        params: CardParams,
        body: PutCardSchema,
        response: { 200: RateCardSchema, 201: RateCardSchema, ...problemResponses(400, 401, 403, 404, 409, 503) },
      },
    },
    async (req, reply) => {
      const viewer = viewerOf(req)
      const result = await upsertCard(app.db, {
        name: req.params.card,
        tenantId: viewer.kind === 'tenant' ? viewer.tenantId : null,
        description: req.body.description ?? null,
        currency: req.body.currency,
      })
      if ('clash' in result) throw problems.conflict(`rate card name "${req.params.card}" is already taken`)
      return reply.status(result.created ? 201 : 200).send(cardOut(result.card))
    },
  )

  app.get(
    '/rate-cards',
    {
      onRequest: reader,
      schema: {
        tags: ['rate-cards'],
        operationId: 'listRateCards',
        summary: 'List the rate cards the caller can see: global cards and the tenant’s own',
        description: `Ordered ${byCodePoint('name')}.`,
        response: { 200: z.object({ data: z.array(RateCardSchema) }), ...problemResponses(400, 401, 403, 404, 503) },
      },
    },
    async (req) => {
      const cards = await listCards(app.db, viewerOf(req))
      return { data: cards.map(cardOut) }
    },
  )

  app.post(
    '/rate-cards/:card/rates',
    {
      onRequest: adminHook,
      schema: {
        tags: ['rate-cards'],
        operationId: 'createRates',
        summary: 'Append rates to a card (all or nothing); a correction names the rate it supersedes; with X-Tenant-Id only to that tenant’s own cards (a global card: 403)',
        params: CardParams,
        body: PostRatesSchema,
        response: {
          201: z.object({ rates: z.array(RateSchema) }),
          ...problemResponses(400, 401, 403, 404, 409, 413, 503),
        },
      },
    },
    async (req, reply) => {
      const viewer = viewerOf(req)
      const card = await getCard(app.db, req.params.card, viewer)
      if (!card) throw problems.notFound(`rate card "${req.params.card}" does not exist`)
      requireCardChangeable(viewer, card)
      const incoming: NewRate[] = req.body.rates.map((r) => ({
        provider: r.provider,
        model: r.model,
        serviceTier: r.service_tier,
        batch: r.batch,
        contextTier: r.context_tier ?? null,
        inferenceGeo: r.inference_geo ?? null,
        unitPrices: canonicalUnitPrices(r.unit_prices),
        effectiveFrom: parseTimestamp(r.effective_from)!,
        effectiveTo: r.effective_to === null || r.effective_to === undefined ? null : parseTimestamp(r.effective_to)!,
        prices: canonicalPrices(r.prices),
        supersedes: r.supersedes ?? null,
        source: r.source ?? null,
      }))
      const written = await app.db.transaction(async (tx) => {
        await lockCard(tx, card.id)
        const { invalid, conflicts } = checkNewRates(await listRates(tx, card.id), incoming)
        if (invalid.length > 0) throw problems.validation(invalid)
        if (conflicts.length > 0)
          throw problems.conflict(`${conflicts.length} conflict${conflicts.length === 1 ? '' : 's'} with the card's rates; nothing was written`, conflicts)
        return insertRates(tx, card.id, incoming)
      })
      return reply.status(201).send({ rates: written.map((r) => rateOut(card.name, r)) })
    },
  )

  app.get(
    '/rate-cards/:card/rates',
    {
      onRequest: reader,
      schema: {
        tags: ['rate-cards'],
        operationId: 'listRates',
        summary: 'The rates in force at `at` (default now), as the card stands now; `model` resolves like pricing',
        description: `Ordered ${byCodePoint('provider, then model, then service tier')}; then batch (false first).`,
        params: CardParams,
        querystring: RatesQuerySchema,
        response: {
          200: z.object({ card: z.string(), at: z.date(), model: z.string().nullable(), data: z.array(RateSchema) }),
          ...problemResponses(400, 401, 403, 404, 503),
        },
      },
    },
    async (req) => {
      const card = await getCard(app.db, req.params.card, viewerOf(req))
      if (!card) throw problems.notFound(`rate card "${req.params.card}" does not exist`)
      const at = req.query.at === undefined ? new Date() : parseTimestamp(req.query.at)!
      let rates = ratesInForce(await listRates(app.db, card.id), at)
      if (req.query.provider) rates = rates.filter((r) => r.provider === req.query.provider)
      if (req.query.model) rates = resolveModel(rates, req.query.model)
      // By code point, as the database's lists are: localeCompare followed the host's locale.
      rates.sort((a, b) =>
        compareCodePoints(a.provider, b.provider) || compareCodePoints(a.model, b.model) || compareCodePoints(a.serviceTier, b.serviceTier) || Number(a.batch) - Number(b.batch))
      return { card: card.name, at, model: req.query.model ?? null, data: rates.map((r) => rateOut(card.name, r)) }
    },
  )
}

export default rateCardRoutes
