import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { problemResponses } from '../shared-schemas.js'

const HealthSchema = z.object({ status: z.literal('ok') })

const healthRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/healthz',
    {
      schema: {
        tags: ['operations'],
        operationId: 'healthz',
        summary: 'Liveness: 200 while the process runs',
        security: [],
        response: { 200: HealthSchema },
      },
    },
    async () => ({ status: 'ok' as const }),
  )

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['operations'],
        operationId: 'readyz',
        summary: 'Readiness: 200 when the database answers and is migrated',
        security: [],
        response: { 200: HealthSchema, ...problemResponses(503) },
      },
    },
    async () => {
      await app.dbState.ready()
      return { status: 'ok' as const }
    },
  )
}

export default healthRoutes
