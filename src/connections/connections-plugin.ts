import fp from 'fastify-plugin'
import type { Config } from '../config.js'
import { countDeadRun, countIngestedRows } from '../plugins/metrics.js'
import { billedCostSink } from './billed-cost-sink.js'
import type { BilledCostSink } from './cost-sink.js'
import { holdLiveness } from './liveness.js'
import { createConnectionRunner, type ConnectionRunner } from './scheduler.js'

declare module 'fastify' {
  interface FastifyInstance {
    connections: ConnectionRunner
  }
}

/**
 * Provider connections: the runner and its timer. Pulled usage pages are counted and evaluated for
 * budgets exactly as `POST /v1/usage/buckets` does after storing them.
 */
export default fp(
  async (app, opts: { config: Config; costSink?: BilledCostSink | undefined }) => {
    const c = opts.config
    // Checked (and taken again if its session was lost) every 10 s, or every third of the lease if shorter.
    const liveness = app.db.engine === 'postgres' ? holdLiveness(app.db, app.log, Math.min(10_000, Math.ceil(c.SYNC_LEASE_MS / 3))) : undefined
    const runner = createConnectionRunner({
      db: app.db,
      secretBox: app.secretBox,
      log: app.log,
      policy: { timeoutMs: c.SYNC_REQUEST_TIMEOUT_MS, maxAttempts: c.SYNC_MAX_ATTEMPTS, baseDelayMs: c.SYNC_RETRY_BASE_MS, maxDelayMs: c.SYNC_RETRY_MAX_MS, maxBodyBytes: c.SYNC_MAX_PAGE_BYTES, allowPrivate: c.OUTBOUND_PRIVATE_ADDRESSES === 'allow' },
      leaseMs: c.SYNC_LEASE_MS,
      retentionMonths: c.RETENTION_MONTHS,
      tickMs: c.TOKENLEDGER_SYNC === 'on' ? c.SYNC_TICK_MS : undefined,
      // Billed costs (src/billing); a test or bench may hand in another sink.
      costSink: opts.costSink ?? billedCostSink,
      afterUsage: (tenantId, result, provider) => {
        countIngestedRows(app.metrics, provider === 'anthropic' ? 'anthropic_api' : 'openai_api', result)
        app.budgets.afterIngest(tenantId, result.span, 'buckets')
      },
      onOutcome: (provider, outcome) => {
        app.metrics.syncRuns.inc({ provider, outcome: outcome.status === 'succeeded' ? 'ok' : 'failed' })
        if (outcome.status === 'failed') app.metrics.syncFailures.inc({ provider, reason: outcome.reason ?? 'provider_error' })
      },
      ready: () => app.dbState.isMigrated(),
      liveness,
      onDeadRun: (provider) => countDeadRun(app.metrics, provider),
    })
    app.decorate('connections', runner)
    app.addHook('onReady', async () => runner.start())
    // Registered after the db plugin, so this runs before the database is closed.
    app.addHook('onClose', async () => {
      await runner.close()
      await liveness?.close()
    })
  },
  { name: 'connections', dependencies: ['db', 'secrets', 'metrics', 'budgets'] },
)
