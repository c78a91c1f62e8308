import fp from 'fastify-plugin'
import type { Config } from '../config.js'
import { createBudgetEngine, type BudgetEngine } from './budget-engine.js'
import { DEFAULT_DELIVERY_LIMITS } from './delivery-queue.js'

declare module 'fastify' {
  interface FastifyInstance {
    budgets: BudgetEngine
  }
}

/** Budget evaluation and alert delivery: after ingest (the routes call `afterIngest`) and on a timer. */
export default fp(
  async (app, opts: { config: Config }) => {
    const engine = createBudgetEngine({
      db: app.db,
      secretBox: app.secretBox,
      log: app.log,
      maxGroups: opts.config.MAX_RESULT_CELLS,
      intervalMs: opts.config.BUDGET_EVALUATION_INTERVAL_MS,
      webhookTimeoutMs: opts.config.BUDGET_WEBHOOK_TIMEOUT_MS,
      maxAttempts: opts.config.BUDGET_WEBHOOK_MAX_ATTEMPTS,
      retryBaseMs: opts.config.BUDGET_WEBHOOK_RETRY_BASE_MS,
      allowPrivateAddresses: opts.config.OUTBOUND_PRIVATE_ADDRESSES === 'allow',
      deliveryLimits: { ...DEFAULT_DELIVERY_LIMITS, total: opts.config.BUDGET_WEBHOOK_CONCURRENCY, perTenant: opts.config.BUDGET_WEBHOOK_TENANT_CONCURRENCY },
      ready: () => app.dbState.isMigrated(),
      onDelivery: (outcome) => app.metrics.alertDeliveries.inc({ channel: 'webhook', outcome }),
    })
    app.decorate('budgets', engine)
    app.addHook('onReady', async () => engine.start())
    // Registered after the db plugin, so this runs before the database is closed.
    app.addHook('onClose', async () => engine.close())
  },
  { name: 'budgets', dependencies: ['db', 'secrets', 'metrics'] },
)
