import type { MercuriusContext } from 'mercurius'
import { listConnections } from '../connections/connection-store.js'
import { connectionOut, type ConnectionView } from '../routes/connections/schemas.js'

/** A run of the REST view in camelCase (`lastRun`, `previousRun`). */
const runOf = (run: ConnectionView['last_run']) => run && {
  startedAt: run.started_at,
  finishedAt: run.finished_at,
  status: run.status,
  pages: run.pages,
  rows: run.rows,
  error: run.error,
}

/** GraphQL `connections`: the REST view (one allowlist) in camelCase. */
export async function connectionsQuery(_root: unknown, _args: unknown, ctx: MercuriusContext) {
  const rows = await listConnections(ctx.db, ctx.tenantId)
  return rows.map(connectionOut).map((c) => ({
    id: c.id,
    name: c.name,
    provider: c.provider,
    accountId: c.account_id,
    baseUrl: c.base_url,
    adminKeyLast4: c.admin_key_last4,
    startDate: c.start_date,
    intervalMinutes: c.interval_minutes,
    lagHours: c.lag_hours,
    bucketWidth: c.bucket_width,
    endpoints: c.endpoints,
    enabled: c.enabled,
    syncedUntil: Object.entries(c.synced_until).map(([endpoint, syncedUntil]) => ({ endpoint, syncedUntil })),
    nextRunAt: c.next_run_at,
    lastRun: runOf(c.last_run),
    previousRun: runOf(c.previous_run),
    createdAt: c.created_at,
    updatedAt: c.updated_at,
  }))
}
