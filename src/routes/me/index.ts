import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { scopesOf } from '../../auth/access.js'
import { problemResponses } from '../shared-schemas.js'

const MeSchema = z.object({
  kind: z.enum(['admin', 'tenant']),
  tenant_id: z
    .string()
    .nullable()
    .describe('the tenant this token acts for: a key’s own, or the one the admin token names with X-Tenant-Id (null when it names none)'),
  key_id: z.string().nullable(),
  scopes: z.array(z.string()),
})

/**
 * Who am I: lets a client check a token (and its scopes) without side effects. X-Tenant-Id is checked as
 * on every tenant route — a key naming another tenant is a 403, the admin token naming an unknown one a
 * 404 — so a token and header that pass here are the ones the tenant routes accept.
 */
const meRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/me',
    {
      onRequest: app.auth.named,
      schema: {
        tags: ['tenants'],
        operationId: 'whoAmI',
        summary: 'Describe the bearer token: admin, or a tenant key with its scopes',
        response: { 200: MeSchema, ...problemResponses(401, 403, 404, 503) },
      },
    },
    async (req) => {
      const p = req.principal!
      return p.kind === 'admin'
        ? { kind: 'admin' as const, tenant_id: req.tenantId || null, key_id: null, scopes: scopesOf(p) }
        : { kind: 'tenant' as const, tenant_id: p.tenantId, key_id: p.keyId, scopes: scopesOf(p) }
    },
  )
}

export default meRoutes
