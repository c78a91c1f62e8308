import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { scopesOf } from '../../auth/access.js'
import { problemResponses } from '../shared-schemas.js'

const MeSchema = z.object({
  kind: z.enum(['admin', 'tenant']),
  tenant_id: z.string().nullable(),
  key_id: z.string().nullable(),
  scopes: z.array(z.string()),
})

/** Who am I: lets a client check a token (and its scopes) without side effects. */
const meRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/me',
    {
      onRequest: app.auth.authenticated,
      schema: {
        tags: ['tenants'],
        operationId: 'whoAmI',
        summary: 'Describe the bearer token: admin, or a tenant key with its scopes',
        response: { 200: MeSchema, ...problemResponses(401, 503) },
      },
    },
    async (req) => {
      const p = req.principal!
      return p.kind === 'admin'
        ? { kind: 'admin' as const, tenant_id: null, key_id: null, scopes: scopesOf(p) }
        : { kind: 'tenant' as const, tenant_id: p.tenantId, key_id: p.keyId, scopes: scopesOf(p) }
    },
  )
}

export default meRoutes
