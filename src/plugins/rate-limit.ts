import rateLimit from '@fastify/rate-limit'
import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { bearerToken, hashSecret, sameHash } from '../auth/tokens.js'
import { problems } from '../errors.js'

export interface RateLimitOptions {
  perMinute: number | 'off'
  adminToken: string | undefined
}

// Health and metrics are polled by infrastructure from few addresses; limiting them would fail probes.
const EXEMPT_ROUTES = new Set(['/healthz', '/readyz', '/metrics'])
// Bounds the memory of remembered key hashes; the oldest are forgotten first (and fall back to IP).
const MAX_KNOWN_KEYS = 100_000

/** Writes count apart from reads, so a bulk import cannot use up a dashboard's budget (and back). */
function scopeClass(req: FastifyRequest): 'ingest' | 'read' {
  if (req.method === 'GET' || req.method === 'HEAD' || req.routeOptions.url === '/graphql') return 'read'
  return 'ingest'
}

/**
 * Per-key limits, checked in the root onRequest hook — before authentication, so rejected floods cost
 * no key lookup. A token is keyed by its SHA-256 (never the raw key) once it has authenticated; an
 * unknown token (or none) is keyed by client address, so rotating random tokens cannot dodge the limit.
 * The admin token is exempt.
 */
export default fp(
  async (app, opts: RateLimitOptions) => {
    if (opts.perMinute === 'off') return
    const max = opts.perMinute
    const known = new Set<string>()
    let adminHash = opts.adminToken ? hashSecret(opts.adminToken) : undefined
    const tokenHash = (req: FastifyRequest) => {
      const token = bearerToken(req.headers.authorization)
      return token ? hashSecret(token) : undefined
    }

    await app.register(rateLimit, {
      global: false,
      max,
      timeWindow: 60_000,
      keyGenerator: (req) => {
        const hash = tokenHash(req)
        return hash && known.has(hash) ? `key:${hash}:${scopeClass(req)}` : `ip:${req.ip}`
      },
      allowList: (req) => {
        if (EXEMPT_ROUTES.has(req.routeOptions.url ?? '')) return true
        const hash = tokenHash(req)
        return hash !== undefined && adminHash !== undefined && sameHash(hash, adminHash)
      },
      errorResponseBuilder: (_req, ctx) => {
        const seconds = Math.max(1, Math.ceil(ctx.ttl / 1000))
        return problems.tooManyRequests(seconds, `more than ${ctx.max} requests a minute; retry after ${seconds} s`)
      },
    })
    app.addHook('onRequest', app.rateLimit())

    // Learns which token hashes are real keys (and which is the generated admin token) from requests
    // that authenticated: preParsing runs right after the route's onRequest auth, so the next request
    // is already keyed by its key.
    app.addHook('preParsing', async (req, _reply, payload) => {
      const principal = req.principal
      const hash = principal ? tokenHash(req) : undefined
      if (!principal || !hash) return payload
      if (principal.kind === 'admin') adminHash ??= hash
      else if (!known.has(hash)) {
        if (known.size >= MAX_KNOWN_KEYS) known.delete(known.values().next().value!)
        known.add(hash)
      }
      return payload
    })
  },
  { name: 'rate-limit', dependencies: ['auth'] },
)
