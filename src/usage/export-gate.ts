import { createGate } from '../db/gate.js'
import { problems } from '../errors.js'

/**
 * The streamed reads' share of the connection pool, server-wide. A REST report (a mirror's JSON page or
 * CSV export) reads its statement through a cursor whose connection stays taken while the client reads;
 * a client that reads slowly, within the cursor's idle limit, keeps it for as long as it likes. Each
 * tenant runs at most TENANT_QUERY_CONCURRENCY of them, but a few tenants together took the whole pool,
 * and every other request (ingest, GraphQL, /readyz) answered 503. At most `size` (EXPORT_CONCURRENCY,
 * below DB_POOL_SIZE) such reads hold a connection at once; the next wait in arrival order for up to
 * `maxWaitMs`, then get a 503 with Retry-After.
 */
export interface ExportGateOptions {
  size: number
  maxWaitMs: number
  retryAfterSeconds: number
}

export function createExportGate(opts: ExportGateOptions) {
  return createGate({
    size: opts.size,
    maxWaitMs: opts.maxWaitMs,
    onTimeout: () =>
      problems.unavailable(
        opts.retryAfterSeconds,
        `${opts.size} streamed reports already hold database connections while their clients read; this one waited ${opts.maxWaitMs} ms — retry shortly`,
      ),
  })
}

export type ExportGate = ReturnType<typeof createExportGate>
