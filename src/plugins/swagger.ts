import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod'

const OPENAPI_INFO = {
  title: 'tokenledger',
  description:
    'LLM usage-and-cost ledger: exact usage buckets and per-request events, priced at query time from ' +
    'effective-dated rate cards. Money is a decimal string. Errors are application/problem+json.',
  version: '1.0.0',
}

export default fp(
  async (app) => {
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: OPENAPI_INFO,
        components: {
          securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
        },
        security: [{ bearer: [] }],
        tags: [
          { name: 'usage', description: 'Usage ingestion' },
          { name: 'reports', description: 'OpenAI-compatible usage and cost reports' },
          { name: 'rate-cards', description: 'Price lists' },
          { name: 'tenants', description: 'Tenants and API keys (admin)' },
          { name: 'operations', description: 'Health and readiness' },
        ],
      },
      // GraphQL is described by its SDL (schema/*.graphql), not by OpenAPI.
      transform: (doc) => (doc.url.startsWith('/graphql') ? { schema: { hide: true }, url: doc.url } : jsonSchemaTransform(doc)),
      transformObject: jsonSchemaTransformObject,
    })
    await app.register(swaggerUi, { routePrefix: '/docs' })
  },
  { name: 'swagger' },
)
