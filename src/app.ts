import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod'
import budgetsPlugin from './budgets/budgets-plugin.js'
import type { Config } from './config.js'
import connectionsPlugin from './connections/connections-plugin.js'
import { endOrphanedRuns, releaseDeadLeases } from './connections/connection-store.js'
import type { BilledCostSink } from './connections/cost-sink.js'
import secretsPlugin from './crypto/secrets-plugin.js'
import type { DbClient } from './db/client.js'
import dashboardPlugin from './dashboard/index.js'
import graphiqlPlugin from './graphql/graphiql.js'
import graphqlPlugin from './graphql/index.js'
import authPlugin, { bootstrapAdminToken } from './plugins/auth.js'
import bodyBudgetPlugin from './plugins/body-budget.js'
import dbPlugin from './plugins/db.js'
import partitionsPlugin from './db/partitions-plugin.js'
import errorsPlugin from './plugins/errors.js'
import { createExportGate } from './usage/export-gate.js'
import { breakOffStalled } from './http/stalled-reader.js'
import { createTenantGate, type TenantGate } from './usage/tenant-gate.js'
import inputGuardPlugin from './plugins/input-guard.js'
import metricsPlugin, { countDeadRun } from './plugins/metrics.js'
import rateLimitPlugin from './plugins/rate-limit.js'
import requestEncodingPlugin from './plugins/request-encoding.js'
import underPressurePlugin from './plugins/under-pressure.js'
import swaggerPlugin from './plugins/swagger.js'
import { ensureDefaultCard } from './pricing/catalog/default-card.js'
import billingRoutes from './routes/billing/index.js'
import budgetRoutes from './routes/budgets/index.js'
import connectionRoutes from './routes/connections/index.js'
import healthRoutes from './routes/health/index.js'
import meRoutes from './routes/me/index.js'
import rateCardRoutes from './routes/rate-cards/index.js'
import reconciliationRoutes from './routes/reconciliation/index.js'
import openaiUsageRoutes from './routes/openai-usage/index.js'
import tenantRoutes from './routes/tenants/index.js'
import usageBucketRoutes from './routes/usage-buckets/index.js'
import usageEventRoutes from './routes/usage-events/index.js'
import { pageSnapshots } from './usage/usage-service.js'

export interface AppOptions {
  config: Config
  /** An already-open, migrated database (tests, benchmarks); otherwise one is opened from config. */
  db?: DbClient
  /** The per-tenant query limiter (tests hand one in to hold a tenant's share); otherwise made from config. */
  queryGate?: TenantGate
  /** Where connections store pulled cost pages; default: billed costs (src/billing). */
  costSink?: BilledCostSink
}

/** REST routes: validated and serialised by their zod schemas. */
const restApi: FastifyPluginAsync<AppOptions> = async (fastify, opts) => {
  fastify.setValidatorCompiler(validatorCompiler)
  fastify.setSerializerCompiler(serializerCompiler)
  const f = fastify.withTypeProvider<ZodTypeProvider>()

  await f.register(healthRoutes)
  await f.register(tenantRoutes, { prefix: '/v1' })
  await f.register(meRoutes, { prefix: '/v1' })
  await f.register(usageBucketRoutes, { prefix: '/v1', config: opts.config })
  await f.register(usageEventRoutes, { prefix: '/v1', retentionMonths: opts.config.RETENTION_MONTHS, maxWaitMs: opts.config.DB_ACQUIRE_TIMEOUT_MS })
  await f.register(rateCardRoutes, { prefix: '/v1' })
  // One share of the pool for streamed reads, server-wide: slow readers in several tenants cannot take it all.
  const exportGate = createExportGate({
    size: opts.config.EXPORT_CONCURRENCY,
    maxWaitMs: opts.config.DB_ACQUIRE_TIMEOUT_MS,
    retryAfterSeconds: Math.ceil(opts.config.DB_RETRY_MS / 1000),
  })
  await f.register(openaiUsageRoutes, { prefix: '/v1', maxGroups: opts.config.MAX_RESULT_CELLS, gate: opts.queryGate, exportGate })
  await f.register(budgetRoutes, {
    prefix: '/v1',
    maxGroups: opts.config.MAX_RESULT_CELLS,
    allowPrivateWebhooks: opts.config.OUTBOUND_PRIVATE_ADDRESSES === 'allow',
    gate: opts.queryGate,
  })
  await f.register(billingRoutes, { prefix: '/v1', config: opts.config })
  await f.register(reconciliationRoutes, { prefix: '/v1', maxGroups: opts.config.MAX_RESULT_CELLS, gate: opts.queryGate })
  await f.register(connectionRoutes, { prefix: '/v1', allowPrivate: opts.config.OUTBOUND_PRIVATE_ADDRESSES === 'allow' })
}

/** The whole application as one plugin: shared infrastructure first, then one plugin per surface. */
const app: FastifyPluginAsync<AppOptions> = async (fastify, opts) => {
  // One per-tenant share of expensive queries across GraphQL and the REST reports.
  const queryGate =
    opts.queryGate ?? createTenantGate({ perTenant: opts.config.TENANT_QUERY_CONCURRENCY, maxWaitMs: opts.config.TENANT_QUERY_WAIT_MS })
  await fastify.register(errorsPlugin, {
    retryAfterSeconds: Math.ceil(opts.config.DB_RETRY_MS / 1000),
    bodyLimit: opts.config.BODY_LIMIT,
  })
  await fastify.register(inputGuardPlugin)
  await fastify.register(requestEncodingPlugin)
  await fastify.register(bodyBudgetPlugin, { limit: opts.config.BODY_BYTES_IN_FLIGHT, retryAfterSeconds: Math.ceil(opts.config.DB_RETRY_MS / 1000) })
  await fastify.register(dbPlugin, {
    config: opts.config,
    ...(opts.db ? { db: opts.db } : {}),
    onMigrated: async (db, { soleProcess }) => {
      await bootstrapAdminToken(db, opts.config.TOKENLEDGER_ADMIN_TOKEN)
      const { skipped } = await ensureDefaultCard(db)
      // The admin's rates on `default` win over the catalog's; each catalog rate left out is said once per start.
      for (const overlap of skipped) fastify.log.warn({ overlap }, 'default card: a catalog rate overlaps a rate of the card and was not imported')
      // Alone on the database, any run still holding a lease belonged to a process that died (SIGKILL, OOM);
      // on PostgreSQL, those whose liveness lock no session holds did. Counted as the failed runs they
      // were: no other process will ever count them.
      const dead = soleProcess ? await endOrphanedRuns(db) : db.engine === 'postgres' ? await releaseDeadLeases(db) : []
      for (const run of dead) if (run.ended) countDeadRun(fastify.metrics, run.provider)
    },
  })
  await fastify.register(partitionsPlugin, { config: opts.config })
  await fastify.register(authPlugin, { adminToken: opts.config.TOKENLEDGER_ADMIN_TOKEN })
  // Before every route, so their hooks cover all of them: load shedding first, then per-key limits.
  await fastify.register(underPressurePlugin, {
    mode: opts.config.UNDER_PRESSURE,
    maxEventLoopDelayMs: opts.config.MAX_EVENT_LOOP_DELAY_MS,
    retryAfterSeconds: Math.ceil(opts.config.DB_RETRY_MS / 1000),
  })
  await fastify.register(rateLimitPlugin, { perMinute: opts.config.RATE_LIMIT_PER_MINUTE })
  // Every answer, however it is sent: a client that stops reading must not hold it (and what it holds) for ever.
  fastify.addHook('onSend', breakOffStalled(opts.config.RESPONSE_STALL_MS))
  await fastify.register(metricsPlugin, {
    enabled: opts.config.METRICS === 'on',
    token: opts.config.METRICS_TOKEN,
    poolSize: opts.config.DB_POOL_SIZE,
  })
  await fastify.register(swaggerPlugin)
  await fastify.register(secretsPlugin, { config: opts.config })
  await fastify.register(budgetsPlugin, { config: opts.config })
  await fastify.register(connectionsPlugin, { config: opts.config, costSink: opts.costSink })

  pageSnapshots.limits = { maxBytes: opts.config.USAGE_PAGE_CACHE_BYTES, ttlMs: opts.config.USAGE_PAGE_CACHE_TTL_MS }
  // mercurius brings its own JSON schemas, so GraphQL lives beside (not inside) the zod-typed REST API.
  await fastify.register(graphqlPlugin, {
    maxGroups: opts.config.MAX_RESULT_CELLS,
    maxDepth: opts.config.GRAPHQL_MAX_DEPTH,
    retryAfterSeconds: Math.ceil(opts.config.DB_RETRY_MS / 1000),
    bodyLimit: opts.config.BODY_LIMIT,
    maxRootFields: opts.config.GRAPHQL_MAX_ROOT_FIELDS,
    gate: queryGate,
  })
  // A sibling of graphqlPlugin, so the /graphql auth hook does not cover the (public) GraphiQL page.
  await fastify.register(graphiqlPlugin)
  // GET / (public page; it sends the read key the user pastes to /graphql).
  await fastify.register(dashboardPlugin)
  await fastify.register(restApi, { ...opts, queryGate })
}

export default app
