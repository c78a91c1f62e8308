import fp from 'fastify-plugin'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { actingTenant, cardViewer, namedOrOwnTenant, refuseRepeatedHeaders, requireScope, tenantHeader, type CardViewer, type Principal, type Scope } from '../auth/access.js'
import { createKeyLookup } from '../auth/key-lookup.js'
import { bearerToken, generateSecret, hashSecret, sameHash } from '../auth/tokens.js'
import type { DbClient } from '../db/client.js'
import { getAdminTokenHash, getTenant, insertAdminTokenHash } from '../db/queries/tenants.js'
import { problems } from '../errors.js'

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal
    /** Set by `tenant(scope)`: the tenant this request acts for. */
    tenantId: string
    /** Set by `cards(need)`: whose rate cards this request sees. */
    cardViewer?: CardViewer
  }
  interface FastifyInstance {
    auth: {
      /** Any valid token (sets `req.principal`; the rate limiter calls it before the route's hooks). */
      authenticated: (req: FastifyRequest) => Promise<void>
      admin: (req: FastifyRequest, reply: FastifyReply) => Promise<void>
      /**
       * Any valid token, with X-Tenant-Id checked as tenant routes check it but no scope needed (`GET /v1/me`):
       * `req.tenantId` is the key's tenant or the admin token's named one, '' when the admin names none.
       */
      named: (req: FastifyRequest, reply: FastifyReply) => Promise<void>
      /** A tenant key with `scope`, or the admin token acting for the tenant named in X-Tenant-Id. */
      tenant: (scope: Scope) => (req: FastifyRequest, reply: FastifyReply) => Promise<void>
      /** The rate-card routes: reading (a `read` key or the admin token) or changing (the admin token). */
      cards: (need: 'read' | 'admin') => (req: FastifyRequest, reply: FastifyReply) => Promise<void>
    }
  }
}

export interface AuthOptions {
  adminToken: string | undefined
}

/**
 * Bootstraps the admin token after migrations: with TOKENLEDGER_ADMIN_TOKEN set nothing is stored;
 * otherwise the first instance to start generates one, stores only its hash, and prints it once to
 * stderr (outside the structured logs, so it never lands in a log pipeline).
 */
export async function bootstrapAdminToken(db: DbClient, configured: string | undefined): Promise<void> {
  if (configured) return
  if (await getAdminTokenHash(db)) return
  const token = generateSecret('tl_admin')
  if (await insertAdminTokenHash(db, hashSecret(token))) {
    process.stderr.write(
      `\ntokenledger: generated admin token (shown once, stored hashed):\n\n  ${token}\n\n` +
        'Set TOKENLEDGER_ADMIN_TOKEN to choose your own.\n\n',
    )
  }
}

export default fp(
  async (app, opts: AuthOptions) => {
    const configuredHash = opts.adminToken ? hashSecret(opts.adminToken) : undefined
    // The generated admin token's hash is written once and never changes: once read, it is kept, so a
    // tenant request costs one key lookup rather than two queries. (Tenant keys are never cached;
    // concurrent lookups share a query that starts after each of them arrived.)
    let storedHash: string | undefined
    const adminTokenHash = async () => configuredHash ?? (storedHash ??= await getAdminTokenHash(app.db))
    const keys = createKeyLookup(app.db)
    app.decorateRequest('principal', undefined)
    app.decorateRequest('tenantId', '')

    const resolve = async (req: FastifyRequest): Promise<Principal> => {
      if (req.principal) return req.principal
      // Before the database: a request naming two credentials or two tenants costs no lookup.
      refuseRepeatedHeaders(req.raw.rawHeaders)
      await app.dbState.ensure()
      const token = bearerToken(req.headers.authorization)
      if (!token) throw problems.unauthorized()
      const hash = hashSecret(token)
      const adminHash = await adminTokenHash()
      if (adminHash && sameHash(hash, adminHash)) return (req.principal = { kind: 'admin' })
      const key = await keys.find(hash)
      if (!key || !sameHash(hash, key.keyHash)) throw problems.unauthorized('the bearer token is not valid')
      return (req.principal = { kind: 'tenant', tenantId: key.tenantId, keyId: key.id, scopes: key.scopes })
    }

    // Every decision is src/auth/access.ts; this plugin only finds the principal and records the verdict.
    const tenantExists = async (id: string) => (await getTenant(app.db, id)) !== undefined
    app.decorate('auth', {
      authenticated: async (req: FastifyRequest) => {
        await resolve(req)
      },
      admin: async (req: FastifyRequest) => {
        requireScope(await resolve(req), 'admin')
      },
      named: async (req: FastifyRequest) => {
        req.tenantId = (await namedOrOwnTenant(await resolve(req), tenantHeader(req.headers), tenantExists)) ?? ''
      },
      tenant: (scope: Scope) => async (req: FastifyRequest) => {
        req.tenantId = await actingTenant(await resolve(req), tenantHeader(req.headers), scope, tenantExists)
      },
      cards: (need: 'read' | 'admin') => async (req: FastifyRequest) => {
        req.cardViewer = await cardViewer(await resolve(req), tenantHeader(req.headers), need, tenantExists)
      },
    })
  },
  { name: 'auth', dependencies: ['db'] },
)
