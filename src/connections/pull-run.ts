import { setTimeout as sleep } from 'node:timers/promises'
import type { Db } from '../db/client.js'
import { isDatabaseError, isUnavailable } from '../db/errors.js'
import type { SecretBox } from '../crypto/secret-box.js'
import { ProblemError } from '../errors.js'
import { ingestJsonBody, type IngestResult } from '../ingest/ingest-buckets.js'
import { retentionGuard } from '../ingest/retention.js'
import type { BilledCostSink } from './cost-sink.js'
import { finishRun, recordProgress, type ConnectionRow } from './connection-store.js'
import { fetchPage, ProviderRefused, redact, RunInterrupted, type RetryPolicy } from './fetch-page.js'
import { bucketOutside, MAX_CURSOR_CHARS, pageHasResults, pageReach, spanText, type EndpointSpec, type ProviderModule } from './provider.js'
import { PROVIDERS, type ProviderName } from './providers.js'
import { syncWindow } from './sync-window.js'

export interface RunDeps {
  db: Db
  secretBox: SecretBox
  policy: RetryPolicy
  leaseMs: number
  /** Aborts between pages (and the request in flight): shutdown. */
  signal: AbortSignal
  costSink?: BilledCostSink | undefined
  /** Told about every stored usage page (budgets, metrics), as the POST route does. */
  afterUsage?: ((tenantId: string, result: IngestResult, provider: ProviderName) => void) | undefined
  now?: () => number
  /** RETENTION_MONTHS: windows start at the cutoff and usage is stored under the same guard as the POST route. */
  retentionMonths?: number | undefined
}

/**
 * The labels of `tokenledger_sync_failures_total`, most telling first: a failed run is labelled by its most
 * telling failure. Taken from what failed (its class, the provider's status), never read back from the
 * error text: that text holds the provider's words and the URL, and a timeout of "400 ms" was labelled
 * `refused`, a lost lease and an unreadable stored key `provider_error`.
 */
const REASONS = ['interrupted', 'lease_lost', 'database', 'admin_key', 'unauthorized', 'shape_conflict', 'refused', 'provider_error'] as const
export type FailureReason = (typeof REASONS)[number]

export interface RunOutcome {
  status: 'succeeded' | 'failed'
  pages: number
  rows: number
  error: string | null
  /** Why a failed run failed, for the failure metric (null when it succeeded). */
  reason: FailureReason | null
  /** The database errors `error` names without their text (for the server log only; never stored or sent). */
  causes?: unknown[]
}

/** Stops the run when the lease is gone (deleted connection, lapsed lease): not our run any more. */
class LeaseLost extends Error {}

/** The stored admin key cannot be opened with this server's TOKENLEDGER_SECRET_KEY. */
class KeyUnopenable extends Error {}

const LEASE_LOST = 'the run lost its lease (the connection was deleted or another instance took over)'

/**
 * Renews the lease every third of its length while the run lasts, not only after each page: one page
 * can take longer than the lease (attempts that time out, Retry-After waits), and a lapsed lease let a
 * second run of the connection start beside this one (POST …/sync answered 202, not 409). When the
 * lease is found gone, the run's signal aborts it (the request in flight and any wait).
 */
function holdLease(deps: RunDeps, conn: ConnectionRow, owner: string, counts: { pages: number; rows: number }) {
  const controller = new AbortController()
  let gone = false
  const forward = () => controller.abort(deps.signal.reason)
  deps.signal.addEventListener('abort', forward, { once: true })
  if (deps.signal.aborted) forward()
  const timer = setInterval(() => {
    recordProgress(deps.db, { tenantId: conn.tenant_id, id: conn.id, owner, leaseMs: deps.leaseMs, ...counts })
      .then((kept) => {
        if (kept) return
        gone = true
        controller.abort(new LeaseLost(LEASE_LOST))
      })
      // The database is away: the page's own progress statement will tell (or the lease lapses).
      .catch(() => undefined)
  }, Math.max(1, Math.floor(deps.leaseMs / 3)))
  timer.unref()
  return {
    signal: controller.signal,
    lost: () => gone,
    release() {
      clearInterval(timer)
      deps.signal.removeEventListener('abort', forward)
    },
  }
}

/** What one run was asked for beyond the connection's own state. */
export interface RunRequest {
  /** Re-pull from this instant (every endpoint), when earlier than where the connection's windows would start. */
  repullFromMs?: number | undefined
}

/**
 * One run of one connection, holding its lease: each endpoint's window page by page, each page
 * stored (one all-or-nothing ingest) before `synced_until` moves past it. Memory holds one page at a
 * time, whatever the history. Any failure ends the run with what was stored kept; the next run
 * re-pulls from `synced_until` (or from `request.repullFromMs`, when asked).
 */
export async function pullConnection(deps: RunDeps, conn: ConnectionRow, owner: string, request: RunRequest = {}): Promise<RunOutcome> {
  const provider = PROVIDERS[conn.provider as ProviderName]
  const counts = { pages: 0, rows: 0 }
  let outcome: RunOutcome
  let adminKey = ''
  // Each endpoint that failed, in order; a failure that stops the run at once is added to them, never in their place.
  const failures: string[] = []
  const causes: unknown[] = []
  const reasons: FailureReason[] = []
  const describe = (err: unknown) => {
    if (isUnavailable(err) || isDatabaseError(err)) causes.push(err)
    reasons.push(reasonOf(err))
    return describeFailure(err)
  }
  const reason = () => REASONS.find((r) => reasons.includes(r)) ?? 'provider_error'
  const lease = holdLease(deps, conn, owner, counts)
  try {
    adminKey = openKey(deps.secretBox, conn.admin_key_sealed)
    for (const endpoint of provider.endpoints) {
      if (!conn.endpoints.includes(endpoint.name)) continue
      if (endpoint.kind === 'costs' && !deps.costSink) continue
      try {
        await pullEndpoint({ ...deps, signal: lease.signal }, conn, provider, endpoint, adminKey, owner, counts, request)
      } catch (err) {
        if (endsTheRun(err)) throw err
        failures.push(describe(err))
      }
    }
    outcome = failures.length
      ? { status: 'failed', ...counts, error: redact(failures.join('; '), adminKey), reason: reason() }
      : { status: 'succeeded', ...counts, error: null, reason: null }
  } catch (err) {
    if (err instanceof LeaseLost || lease.lost()) return { status: 'failed', ...counts, error: LEASE_LOST, reason: 'lease_lost' }
    const error = redact([...failures, describe(err)].join('; '), adminKey)
    outcome = { status: 'failed', ...counts, error, reason: reason() }
  } finally {
    lease.release()
  }
  await recordOutcome(deps, { tenantId: conn.tenant_id, id: conn.id, owner, ...outcome })
  return causes.length ? { ...outcome, causes } : outcome
}

/** The first pause before recording an outcome again; it doubles per failure, the whole within the lease. */
const RECORD_RETRY_MS = 1_000

/**
 * Ends the run in the database. When the database fails that (unreachable, saturated, a lock held past
 * the statement timeout) — often the very failure that ended the run — it is tried again, doubling the
 * pause, for as long as the lease would have lasted: otherwise the connection showed `running` and
 * refused syncs (409) until its lease lapsed, with nothing running. Shutdown stops the retries.
 */
async function recordOutcome(deps: RunDeps, p: Parameters<typeof finishRun>[1]): Promise<void> {
  const deadline = Date.now() + deps.leaseMs
  for (let pause = RECORD_RETRY_MS; ; pause *= 2) {
    try {
      return await finishRun(deps.db, p)
    } catch (err) {
      if (!isUnavailable(err) || deps.signal.aborted || Date.now() + pause > deadline) throw err
      await sleep(pause, undefined, { signal: deps.signal }).catch(() => undefined)
    }
  }
}

function openKey(box: SecretBox, sealed: string): string {
  try {
    return box.open(sealed)
  } catch {
    throw new KeyUnopenable('the stored admin key cannot be opened with this TOKENLEDGER_SECRET_KEY: restore the key it was sealed with, or PATCH a new admin_key')
  }
}

/**
 * Failures that end the whole run. Any other (a provider refusing one endpoint's request, a page ingest
 * refuses, a report-shape 409, retries exhausted) fails that endpoint only: the run goes on to the next
 * and fails at the end naming each. Before, the first such failure ended the run, so an endpoint failing
 * for good (a group_by the provider rejects, a shape conflict with an earlier import) kept every endpoint
 * after it — costs last of all — from ever syncing again.
 */
function endsTheRun(err: unknown): boolean {
  if (err instanceof LeaseLost || err instanceof RunInterrupted || isUnavailable(err)) return true
  // A key the provider refuses is refused by every endpoint.
  return err instanceof ProviderRefused && err.status === 401
}

function reasonOf(err: unknown): FailureReason {
  if (err instanceof RunInterrupted) return 'interrupted'
  if (err instanceof LeaseLost) return 'lease_lost'
  if (isUnavailable(err) || isDatabaseError(err)) return 'database'
  if (err instanceof KeyUnopenable) return 'admin_key'
  if (err instanceof ProviderRefused && (err.status === 401 || err.status === 403)) return 'unauthorized'
  if (err instanceof ProblemError && err.statusCode === 409) return 'shape_conflict'
  if (err instanceof ProviderRefused && err.status !== undefined && err.status < 500) return 'refused'
  return 'provider_error'
}

function describeFailure(err: unknown): string {
  if (err instanceof RunInterrupted) return 'interrupted: the server shut down mid-run; the next run resumes from synced_until'
  if (err instanceof ProblemError) {
    const first = err.errors?.slice(0, 3).map((e) => `${e.path}: ${e.message}`).join('; ')
    return `${err.statusCode} ${err.title}: ${err.message}${first ? ` (${first})` : ''}`
  }
  // The tenant reads last_run.error: the database's own text (its host and port, table and constraint
  // names) stays in the server log (RunOutcome.cause), as it does for a 5xx response.
  if (isUnavailable(err)) return 'database: unavailable or too slow; the next run resumes from synced_until'
  if (isDatabaseError(err)) return `database: a statement failed (SQLSTATE ${err.code}); the server log has the details`
  if (err instanceof ProviderRefused || err instanceof Error) return err.message
  return String(err)
}

async function pullEndpoint(
  deps: RunDeps,
  conn: ConnectionRow,
  provider: ProviderModule,
  endpoint: EndpointSpec,
  adminKey: string,
  owner: string,
  counts: { pages: number; rows: number },
  request: RunRequest,
): Promise<void> {
  const nowMs = (deps.now ?? Date.now)()
  const retention = retentionGuard(deps.retentionMonths, new Date(nowMs))
  const window = syncWindow({
    notBeforeMs: retention?.cutoff.getTime(),
    syncedUntil: conn.synced_until[endpoint.name],
    startDate: conn.start_date,
    lagHours: conn.lag_hours,
    width: endpoint.fixedWidth ?? conn.bucket_width,
    nowMs,
    repullFromMs: request.repullFromMs,
  })
  if (!window) return
  const headers = provider.authHeaders(adminKey)
  const providerName = provider.provider
  const cursors = new Set<string>()
  let cursor: string | undefined
  // The end of the latest bucket stored so far in this window: every page that says has_more must move it.
  let progress = window.startMs
  // How far the buckets stored so far reach from the window's start without a gap.
  let covered = window.startMs
  for (;;) {
    if (deps.signal.aborted) throw new RunInterrupted('interrupted')
    const url = provider.pageUrl(conn.base_url, endpoint, window, cursor)
    const page = await fetchPage({ url, headers, signal: deps.signal, secret: adminKey }, deps.policy)
    // Only has_more: false ends a window. A page without it (a proxy that drops the field, a string
    // "true") was taken for the last one: synced_until moved to now past the pages never read.
    if (typeof page.has_more !== 'boolean')
      throw new Error(`${endpoint.name}: the provider's page says neither has_more: true nor false; stopped rather than take it for the last page`)
    const outside = bucketOutside(page, window)
    if (outside)
      throw new Error(`${endpoint.name}: the provider answered a bucket ${spanText(outside)} outside the window asked for, ${spanText(window)}; nothing of that page was stored`)
    try {
      if (pageHasResults(page)) {
        const opts = { provider: providerName, accountId: conn.account_id ?? undefined, groupBy: endpoint.groupBy }
        if (endpoint.kind === 'usage') {
          const result = await ingestJsonBody(deps.db, conn.tenant_id, page, opts, retention)
          counts.rows += result.received
          deps.afterUsage?.(conn.tenant_id, result, providerName)
        } else {
          const result = await deps.costSink!.ingest(deps.db, conn.tenant_id, page, { ...opts, accountId: conn.account_id })
          counts.rows += result.received
        }
      }
    } catch (err) {
      if (err instanceof ProblemError) err.message = `${endpoint.name} ${new Date(window.startMs).toISOString()}…: ${err.message}`
      throw err
    }
    counts.pages++
    const more = page.has_more === true
    const next = typeof page.next_page === 'string' ? page.next_page : undefined
    if (more && (next === undefined || cursors.has(next)))
      throw new Error(`${endpoint.name}: the provider said has_more without a new next_page cursor; stopped to avoid a loop`)
    if (more && next!.length > MAX_CURSOR_CHARS)
      throw new Error(`${endpoint.name}: the provider's next_page cursor is ${next!.length} characters long, more than ${MAX_CURSOR_CHARS}; stopped rather than send it`)
    const reach = pageReach(page, covered)
    // Pages are cut between buckets, in time order: a page that says has_more without a bucket past the
    // previous page's (empty or repeated pages under ever new cursors) would be followed for ever.
    if (more && (reach.lastEndMs === undefined || reach.lastEndMs <= progress))
      throw new Error(`${endpoint.name}: the provider said has_more on a page with no new bucket inside the window; stopped to avoid a loop`)
    if (reach.lastEndMs !== undefined) progress = Math.max(progress, reach.lastEndMs)
    // synced_until moves only past buckets seen without a gap (taking the page's last bucket end moved it
    // past hours a sparse page left out, never pulled once the run failed); at the window's end, to its end.
    // Buckets come whole; the one still in progress (its end is after now) is re-pulled next time.
    covered = more ? reach.contiguousMs : window.endMs
    const syncedUntil = covered > window.startMs ? { syncedUntil: new Date(Math.min(covered, nowMs)) } : {}
    const kept = await recordProgress(deps.db, { tenantId: conn.tenant_id, id: conn.id, owner, leaseMs: deps.leaseMs, ...counts, endpoint: endpoint.name, ...syncedUntil })
    if (!kept) throw new LeaseLost(LEASE_LOST)
    if (!more) return
    cursors.add(next!)
    cursor = next
  }
}
