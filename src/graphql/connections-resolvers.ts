import type { MercuriusContext } from 'mercurius'
import { listConnections } from '../connections/connection-store.js'
import { connectionOut } from '../routes/connections/schemas.js'

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
    lastRun: c.last_run && {
      startedAt: c.last_run.started_at,
      finishedAt: c.last_run.finished_at,
      status: c.last_run.status,
      pages: c.last_run.pages,
      rows: c.last_run.rows,
      error: c.last_run.error,
    },
    createdAt: c.created_at,
    updatedAt: c.updated_at,
  }))
}
