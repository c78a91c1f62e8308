import underPressure from '@fastify/under-pressure'
import fp from 'fastify-plugin'
import { problems } from '../errors.js'

export interface UnderPressureOptions {
  mode: 'auto' | 'on' | 'off'
  maxEventLoopDelayMs: number
  retryAfterSeconds: number
}

/**
 * 503 problem+json while the event loop lags. On PostgreSQL the loop only parses and serialises, so a
 * long delay means overload; embedded PGlite runs every query on the loop, so there a slow query would
 * shed unrelated requests — `auto` leaves it off on PGlite.
 */
export default fp(
  async (app, opts: UnderPressureOptions) => {
    const on = opts.mode === 'on' || (opts.mode === 'auto' && app.db.engine === 'postgres')
    if (!on) return
    await app.register(underPressure, {
      maxEventLoopDelay: opts.maxEventLoopDelayMs,
      retryAfter: opts.retryAfterSeconds,
      pressureHandler: async (req) => {
        // Liveness and metrics still answer: restarting an overloaded process would only add load.
        if (req.routeOptions.url === '/healthz' || req.routeOptions.url === '/metrics') return
        throw problems.overloaded(opts.retryAfterSeconds)
      },
    })
  },
  { name: 'under-pressure', dependencies: ['db'] },
)
