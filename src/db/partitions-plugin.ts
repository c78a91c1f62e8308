import fp from 'fastify-plugin'
import type { Config } from '../config.js'
import { maintainPartitions } from './partitions.js'
import { syncRollupTimeZones } from './rollup-zones.js'

/**
 * Runs partition maintenance (src/db/partitions.ts) once the database is migrated and then on a timer:
 * month partitions ahead of time, and retention when RETENTION_MONTHS is set. A failure is logged and
 * retried on the next tick: writes never depend on it (the default partition takes any month).
 * The same start-up work keeps the daily rollup's zones equal to ROLLUP_TIME_ZONES (src/db/rollup-zones.ts;
 * a no-op on later ticks). Until a zone is backfilled its queries read the base table, so a failure
 * there costs speed, never correctness — and the server is ready before it ends: a backfill reads every
 * stored bucket (minutes at 10M), which held start-up past Fastify's plugin timeout, so the server
 * never started. Readiness waits for the partitions only.
 */
export default fp(
  async (app, opts: { config: Config }) => {
    const { config } = opts
    const policy = {
      retentionMonths: config.RETENTION_MONTHS,
      rollupRetentionMonths: config.ROLLUP_RETENTION_MONTHS,
      monthsAhead: config.PARTITION_MONTHS_AHEAD,
    }
    let timer: NodeJS.Timeout | undefined
    let running: Promise<void> | undefined
    let closed = false
    // Shutdown cancels a zone backfill in progress (it rolls back whole and is done at the next start):
    // awaited, it held close() past GRACE_MS — minutes at 10M buckets — and the process exited 1.
    const stopping = new AbortController()
    let partitionsDone = () => {}
    const firstPartitions = new Promise<void>((resolve) => (partitionsDone = resolve))

    const tick = async () => {
      // Until the database is migrated (it may still be unreachable), try again at the db retry pace.
      if (!app.dbState.isMigrated()) {
        partitionsDone()
        return schedule(config.DB_RETRY_MS)
      }
      try {
        const r = await maintainPartitions(app.db, policy)
        if (r.created.length + r.dropped.length + r.defaultRowsDeleted + r.rollupRowsDeleted > 0) app.log.info(r, 'partition maintenance')
      } catch (err) {
        app.log.error({ err }, 'partition maintenance failed; retrying on the next tick')
      }
      partitionsDone()
      try {
        // On its own connection: a backfill may run for minutes without a reply, past the pool's response deadline.
        const z = await app.db.dedicated((db) => syncRollupTimeZones(db, config.ROLLUP_TIME_ZONES, stopping.signal, config.RETENTION_MONTHS))
        if (z.coveredFrom)
          app.log.warn(
            z,
            `daily rollup zones ${z.added.join(', ')} cover ${z.coveredFrom.toISOString()} on: retention had dropped the raw buckets before it, ` +
              'so their local days before it are not in the daily rollup and queries in those zones read the base table there (which no longer ' +
              'holds them); the UTC rows and the hourly rollup keep those months',
          )
        else if (z.added.length + z.removed.length > 0) app.log.info(z, 'daily rollup zones')
      } catch (err) {
        if (stopping.signal.aborted) app.log.info('daily rollup zones: stopped by the shutdown and rolled back; the next start syncs them')
        else app.log.error({ err }, 'daily rollup zones not synced (their queries read the base table); retrying on the next tick')
      }
      if (config.PARTITION_MAINTENANCE_INTERVAL_MS !== 'off') schedule(config.PARTITION_MAINTENANCE_INTERVAL_MS)
    }
    const schedule = (ms: number) => {
      if (!closed) timer = setTimeout(() => void (running = tick()), ms).unref()
    }

    // Registered after the db plugin, so its onReady (which migrates) has run by now.
    app.addHook('onReady', async () => {
      running = tick()
      await firstPartitions
    })
    app.addHook('onClose', async () => {
      closed = true
      stopping.abort()
      if (timer) clearTimeout(timer)
      await running
    })
  },
  { name: 'partitions', dependencies: ['db'] },
)
