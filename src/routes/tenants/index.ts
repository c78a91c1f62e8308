import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { generateId, generateSecret, hashSecret } from '../../auth/tokens.js'
import { isUniqueViolation } from '../../db/errors.js'
import {
  createApiKey,
  createTenant,
  getTenant,
  listApiKeys,
  listTenants,
  revokeApiKey,
  type ApiKey,
  type Tenant,
} from '../../db/queries/tenants.js'
import { problems } from '../../errors.js'
import { SCOPES } from '../../auth/access.js'
import { byCodePoint, problemResponses, TenantIdParam } from '../shared-schemas.js'

const TenantSchema = z
  .object({ id: TenantIdParam, name: z.string().min(1).max(200), created_at: z.date().optional() })
  .meta({ id: 'Tenant' })
/** Bounded so that a 404 never echoes an arbitrary path back (ids are `key_` and 16 characters). */
const ApiKeyIdParam = z.string().min(1).max(64)
const CreateTenantSchema = z.object({ id: TenantIdParam, name: z.string().min(1).max(200) })
const ScopesSchema = z.array(z.enum(SCOPES)).min(1).refine((s) => new Set(s).size === s.length, 'scopes must not repeat')
const CreateKeySchema = z.object({ name: z.string().min(1).max(200), scopes: ScopesSchema })
const ApiKeySchema = z
  .object({
    id: z.string(),
    name: z.string(),
    tenant_id: z.string(),
    scopes: z.array(z.string()),
    created_at: z.date(),
    revoked_at: z.date().nullable(),
  })
  .meta({ id: 'ApiKey', description: 'An API key without its secret' })
const CreatedKeySchema = z.object({
  id: z.string(),
  key: z.string().describe('The secret: shown only in this response, stored hashed'),
  name: z.string(),
  tenant_id: z.string(),
  scopes: z.array(z.string()),
})

const tenantOut = (t: Tenant) => ({ id: t.id, name: t.name, created_at: t.createdAt })
const keyOut = (k: ApiKey) => ({
  id: k.id,
  name: k.name,
  tenant_id: k.tenantId,
  scopes: k.scopes,
  created_at: k.createdAt,
  revoked_at: k.revokedAt,
})

const tenantRoutes: FastifyPluginAsyncZod = async (app) => {
  app.addHook('onRequest', app.auth.admin)

  app.post(
    '/tenants',
    {
      schema: {
        tags: ['tenants'],
        operationId: 'createTenant',
        summary: 'Create a tenant (one organization)',
        body: CreateTenantSchema,
        response: { 201: TenantSchema, ...problemResponses(400, 401, 403, 409, 503) },
      },
    },
    async (req, reply) => {
      const created = await createTenant(app.db, req.body)
      if (!created) throw problems.conflict(`tenant "${req.body.id}" already exists`)
      return reply.status(201).send(tenantOut(created))
    },
  )

  app.get(
    '/tenants',
    {
      schema: {
        tags: ['tenants'],
        operationId: 'listTenants',
        summary: 'List tenants',
        description: `Ordered ${byCodePoint('id')}.`,
        response: { 200: z.object({ data: z.array(TenantSchema) }), ...problemResponses(401, 403, 503) },
      },
    },
    async () => ({ data: (await listTenants(app.db)).map(tenantOut) }),
  )

  app.post(
    '/tenants/:id/api-keys',
    {
      schema: {
        tags: ['tenants'],
        operationId: 'createApiKey',
        summary: 'Create a tenant API key; the secret is returned once',
        params: z.object({ id: TenantIdParam }),
        body: CreateKeySchema,
        response: { 201: CreatedKeySchema, ...problemResponses(400, 401, 403, 404, 503) },
      },
    },
    async (req, reply) => {
      if (!(await getTenant(app.db, req.params.id))) throw problems.notFound(`tenant "${req.params.id}" does not exist`)
      const key = generateSecret('tl_key')
      const row = await createApiKey(app.db, {
        id: generateId('key'),
        tenantId: req.params.id,
        name: req.body.name,
        keyHash: hashSecret(key),
        scopes: req.body.scopes,
      }).catch((err: unknown) => {
        if (isUniqueViolation(err)) throw problems.conflict('key collision; retry')
        throw err
      })
      return reply.status(201).send({ id: row.id, key, name: row.name, tenant_id: row.tenantId, scopes: row.scopes })
    },
  )

  app.get(
    '/tenants/:id/api-keys',
    {
      schema: {
        tags: ['tenants'],
        operationId: 'listApiKeys',
        summary: 'List a tenant’s API keys (never their secrets)',
        description: `Oldest first; keys created at the same instant ${byCodePoint('id')}.`,
        params: z.object({ id: TenantIdParam }),
        response: { 200: z.object({ data: z.array(ApiKeySchema) }), ...problemResponses(401, 403, 404, 503) },
      },
    },
    async (req) => {
      if (!(await getTenant(app.db, req.params.id))) throw problems.notFound(`tenant "${req.params.id}" does not exist`)
      return { data: (await listApiKeys(app.db, req.params.id)).map(keyOut) }
    },
  )

  app.delete(
    '/api-keys/:keyId',
    {
      schema: {
        tags: ['tenants'],
        operationId: 'revokeApiKey',
        summary: 'Revoke an API key; it stops working at once',
        params: z.object({ keyId: ApiKeyIdParam }),
        response: { 204: z.null().describe('Revoked'), ...problemResponses(401, 403, 404, 503) },
      },
    },
    async (req, reply) => {
      if (!(await revokeApiKey(app.db, req.params.keyId))) throw problems.notFound(`API key "${req.params.keyId}" does not exist`)
      return reply.status(204).send(null)
    },
  )
}

export default tenantRoutes
