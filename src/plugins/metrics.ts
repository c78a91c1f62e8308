import fp from 'fastify-plugin'
import type { FastifyRequest } from 'fastify'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import { sameHash, hashSecret, bearerToken } from '../auth/tokens.js'
import { problems } from '../errors.js'

/**
 * Every tokenledger series, created per app (no module-level registry: tests build many apps). Features
 * increment them through `app.metrics`. Labels never carry tenant ids, keys or raw URLs: routes are
 * patterns, so a label's values stay few.
 */
function createMetrics(registry: Registry) {
  const registers = [registry]
  return {
    registry,
    httpDuration: new Histogram({
      name: 'tokenledger_http_request_duration_seconds',
      help: 'HTTP request latency by route pattern, method and status code',
      labelNames: ['method', 'route', 'status_code'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    ingestedRows: new Counter({
      name: 'tokenledger_ingested_rows_total',
      help:
        'Usage rows (buckets and resources) bucket ingest wrote to the ledger, by source (api, openai_csv, openai_api, anthropic_api, …) ' +
        'and outcome: created (a row the ledger gained) or replaced (a stored row whose counters changed). A row that repeats ' +
        'what is stored (a re-post, a re-pulled page or lag window) is not counted',
      labelNames: ['source', 'outcome'] as const,
      registers,
    }),
    events: new Counter({
      name: 'tokenledger_events_total',
      help: 'Per-request usage events by outcome (created, duplicate, rejected)',
      labelNames: ['status'] as const,
      registers,
    }),
    queryDuration: new Histogram({
      name: 'tokenledger_query_duration_seconds',
      help: 'Usage and cost queries, whole request, by surface (graphql, rest)',
      labelNames: ['surface'] as const,
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    syncRuns: new Counter({
      name: 'tokenledger_sync_runs_total',
      help: 'Provider connection sync runs by provider and outcome (ok, failed)',
      labelNames: ['provider', 'outcome'] as const,
      registers,
    }),
    syncFailures: new Counter({
      name: 'tokenledger_sync_failures_total',
      help: 'Failed provider connection syncs by provider and reason',
      labelNames: ['provider', 'reason'] as const,
      registers,
    }),
    alertDeliveries: new Counter({
      name: 'tokenledger_alert_deliveries_total',
      help: 'Budget alert deliveries by channel and outcome (delivered, failed, retried)',
      labelNames: ['channel', 'outcome'] as const,
      registers,
    }),
    dbPoolMax: new Gauge({ name: 'tokenledger_db_pool_max', help: 'Database connections the pool may open (PGlite: 1)', labelNames: ['engine'] as const, registers }),
    dbReady: new Gauge({ name: 'tokenledger_db_ready', help: '1 when the database answers and is migrated, else 0', registers }),
    bodyBytesHeld: new Gauge({
      name: 'tokenledger_request_body_bytes_held',
      help: 'Request-body bytes (weighted) held in memory by requests in flight, against BODY_BYTES_IN_FLIGHT',
      registers,
    }),
  }
}

export type Metrics = ReturnType<typeof createMetrics>

/**
 * Counts one bucket ingest in `tokenledger_ingested_rows_total`: the rows it wrote, never the rows it was
 * handed. A connection re-pulls its lag window every run (48 h by default) and re-fetches a page after a
 * crash, and clients re-post: counting `received` claimed those repeats as ingested again and again, so
 * the counter grew many times faster than the ledger. The POST route and the connections both call this.
 */
export function countIngestedRows(metrics: Metrics, source: string, result: { created: number; replaced: number }): void {
  if (result.created > 0) metrics.ingestedRows.inc({ source, outcome: 'created' }, result.created)
  if (result.replaced > 0) metrics.ingestedRows.inc({ source, outcome: 'replaced' }, result.replaced)
}

/** A run whose process died mid-run, ended by another process (or its restart): a failed run, interrupted. */
export function countDeadRun(metrics: Metrics, provider: string): void {
  metrics.syncRuns.inc({ provider, outcome: 'failed' })
  metrics.syncFailures.inc({ provider, reason: 'interrupted' })
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Metrics
  }
}

export interface MetricsOptions {
  enabled: boolean
  /** When set, GET /metrics needs `Authorization: Bearer <token>`. */
  token: string | undefined
  poolSize: number
}

/** The REST routes that answer usage and cost queries: OpenAI's paths, their aliases and reconciliation. */
const REST_QUERY_ROUTE = /^\/v1\/(organization\/|usage$|costs$|reconciliation$)/

function querySurface(req: FastifyRequest): 'graphql' | 'rest' | undefined {
  const route = req.routeOptions.url
  if (route === '/graphql') return 'graphql'
  // GET only: /v1/usage/buckets and /v1/usage/events are writes.
  if (req.method === 'GET' && route !== undefined && REST_QUERY_ROUTE.test(route)) return 'rest'
  return undefined
}

export default fp(
  async (app, opts: MetricsOptions) => {
    const metrics = createMetrics(new Registry())
    // Features increment these whether or not they are exposed; METRICS=off only drops collection and the route.
    app.decorate('metrics', metrics)
    if (!opts.enabled) return

    collectDefaultMetrics({ register: metrics.registry, prefix: 'tokenledger_' })
    metrics.dbPoolMax.set({ engine: app.db.engine }, app.db.engine === 'pglite' ? 1 : opts.poolSize)
    const tokenHash = opts.token ? hashSecret(opts.token) : undefined

    app.addHook('onResponse', async (req, reply) => {
      const seconds = reply.elapsedTime / 1000
      // Unmatched URLs share one label value, so scanning for paths cannot grow the series.
      const route = req.routeOptions.url ?? 'unmatched'
      metrics.httpDuration.observe({ method: req.method, route, status_code: String(reply.statusCode) }, seconds)
      const surface = querySurface(req)
      if (surface) metrics.queryDuration.observe({ surface }, seconds)
    })

    // Prometheus text, not part of the JSON API: hidden from the OpenAPI document.
    app.get('/metrics', { schema: { hide: true, tags: ['operations'], operationId: 'metrics' } }, async (req, reply) => {
      if (tokenHash) {
        const given = bearerToken(req.headers.authorization)
        if (!given || !sameHash(hashSecret(given), tokenHash)) throw problems.unauthorized('GET /metrics needs METRICS_TOKEN as a bearer token')
      }
      metrics.dbReady.set(app.dbState.isMigrated() ? 1 : 0)
      metrics.bodyBytesHeld.set(app.bodyBytesHeld())
      return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics())
    })
  },
  { name: 'metrics', dependencies: ['db', 'body-budget'] },
)
