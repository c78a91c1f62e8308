import rateLimit from '@fastify/rate-limit'
import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { bearerToken } from '../auth/tokens.js'
import { ProblemError, problems } from '../errors.js'

export interface RateLimitOptions {
  perMinute: number | 'off'
}

// Health and metrics are polled by infrastructure from few addresses; limiting them would fail probes.
const EXEMPT_ROUTES = new Set(['/healthz', '/readyz', '/metrics'])

/** Writes count apart from reads, so a bulk import cannot use up a dashboard's budget (and back). */
function scopeClass(req: FastifyRequest): 'ingest' | 'read' {
  if (req.method === 'GET' || req.method === 'HEAD' || req.routeOptions.url === '/graphql') return 'read'
  return 'ingest'
}

/**
 * Per-key limits, checked in the root onRequest hook. The bearer token is authenticated first — the
 * route's own auth hook then reuses the principal, so a valid key costs no second lookup — and a key is
 * limited by its own budget from its first request. Only a missing or invalid token is keyed by client
 * address, so rotating random tokens cannot dodge the limit, and such requests never use up the
 * budget of a key that has not been seen yet (they did: keyed by address until its first success, a
 * new key — or every key after a restart, behind a proxy — got 429 for another client's bad tokens).
 * The admin token is exempt. A request without a token is keyed by address at once: authenticating it
 * would wait for the database, and the public pages answered 503 while it was away.
 */
export default fp(
  async (app, opts: RateLimitOptions) => {
    if (opts.perMinute === 'off') return
    const max = opts.perMinute

    await app.register(rateLimit, {
      global: false,
      max,
      timeWindow: 60_000,
      keyGenerator: async (req) => {
        if (EXEMPT_ROUTES.has(req.routeOptions.url ?? '')) return 'exempt'
        // No token: nothing to look up, so no database either — the pages that need none (the dashboard,
        // /docs, GraphiQL) are served while it is away; a route that needs a token answers for itself.
        if (!bearerToken(req.headers.authorization)) return `ip:${req.ip}`
        // An invalid token is counted by address below (the route then answers 401). Anything
        // else (the database away) is answered now, as the route would: looking the key up twice would
        // double the wait for that 503.
        const principal = await app.auth.authenticated(req).then(
          () => req.principal,
          (err: unknown) => {
            if (err instanceof ProblemError && err.statusCode === 401) return undefined
            throw err
          },
        )
        return principal?.kind === 'tenant' ? `key:${principal.keyId}:${scopeClass(req)}` : `ip:${req.ip}`
      },
      allowList: (req) => EXEMPT_ROUTES.has(req.routeOptions.url ?? '') || req.principal?.kind === 'admin',
      errorResponseBuilder: (_req, ctx) => {
        const seconds = Math.max(1, Math.ceil(ctx.ttl / 1000))
        return problems.tooManyRequests(seconds, `more than ${ctx.max} requests a minute; retry after ${seconds} s`)
      },
    })
    app.addHook('onRequest', app.rateLimit())
  },
  { name: 'rate-limit', dependencies: ['auth'] },
)
