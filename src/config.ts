import { z } from 'zod'
import { parseSecretKey } from './crypto/secret-box.js'
import { DEFAULT_DELIVERY_LIMITS } from './budgets/delivery-queue.js'
import { outboundUrl } from './http/outbound-url.js'
import { isValidTimeZone } from './usage/windows.js'

const booleanString = z.enum(['true', 'false']).transform((v) => v === 'true')

const ConfigFields = z.object({
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  DATA_DIR: z.string().min(1).default('./data'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  TOKENLEDGER_ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  BODY_LIMIT: z.coerce.number().int().positive().default(32 * 1024 * 1024),
  /**
   * The request-body bytes all requests in flight may hold in memory at once (src/plugins/body-budget.ts,
   * docs/reliability.md "Round 12"); unset: two bodies of BODY_LIMIT.
   */
  BODY_BYTES_IN_FLIGHT: z.coerce.number().int().positive().optional(),
  CSV_BODY_LIMIT: z.coerce.number().int().positive().default(4 * 1024 * 1024 * 1024),
  /**
   * A billed-cost CSV is parsed into rows held in memory, unlike the usage CSV spooled to disk under
   * CSV_BODY_LIMIT (docs/reliability.md "Round 12"): 8 MiB is ~40,000 export rows.
   */
  BILLED_CSV_BODY_LIMIT: z.coerce.number().int().positive().default(8 * 1024 * 1024),
  STATEMENT_TIMEOUT_MS: z.coerce.number().int().positive().default(30_000),
  MAX_RESULT_CELLS: z.coerce.number().int().positive().default(200_000),
  /** Page snapshots of paged `usage` reads kept in process memory (docs/performance.md "Paging"); 0 disables them. */
  USAGE_PAGE_CACHE_BYTES: z.coerce.number().int().nonnegative().default(64 * 1024 * 1024),
  USAGE_PAGE_CACHE_TTL_MS: z.coerce.number().int().positive().default(5 * 60_000),
  GRAPHQL_MAX_DEPTH: z.coerce.number().int().positive().default(8),
  DB_POOL_SIZE: z.coerce.number().int().positive().default(10),
  /** PostgreSQL work_mem of the server's connections: usage statements hash-aggregate in memory up to it (docs/performance.md). */
  DB_WORK_MEM: z.string().regex(/^[1-9][0-9]{0,6}(kB|MB|GB)$/, 'must be a PostgreSQL memory size such as 64MB').default('64MB'),
  DB_RETRY_MS: z.coerce.number().int().positive().default(2_000),
  DB_CONNECT_TIMEOUT_MS: z.coerce.number().int().positive().default(2_000),
  DB_ACQUIRE_TIMEOUT_MS: z.coerce.number().int().positive().default(5_000),
  /**
   * A pooled connection that sent PostgreSQL a request and heard nothing back for this long is closed
   * (src/db/response-deadline.ts); unset: STATEMENT_TIMEOUT_MS + 15 s. Must exceed STATEMENT_TIMEOUT_MS.
   */
  DB_RESPONSE_TIMEOUT_MS: z.union([z.literal('off'), z.coerce.number().int().positive()]).optional(),
  GRACE_MS: z.coerce.number().int().positive().default(10_000),
  /**
   * The longest a request may take to arrive, headers and body (Node's requestTimeout → 408): bounds a
   * body trickled slowly. An upload of a large usage CSV on a slow link needs it raised.
   */
  REQUEST_TIMEOUT_MS: z.coerce.number().int().min(1_000).default(300_000),
  TRUST_PROXY: booleanString.default(false),
  METRICS: z.enum(['on', 'off']).default('on'),
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  RATE_LIMIT_PER_MINUTE: z
    .union([z.literal('off'), z.coerce.number().int().positive()])
    .default(1200)
    .describe('requests per minute per key and scope class (ingest, read); off disables'),
  UNDER_PRESSURE: z.enum(['auto', 'on', 'off']).default('auto'),
  MAX_EVENT_LOOP_DELAY_MS: z.coerce.number().int().positive().default(1_000),
  TENANT_QUERY_CONCURRENCY: z.coerce.number().int().positive().default(4),
  TENANT_QUERY_WAIT_MS: z.coerce.number().int().nonnegative().default(5_000),
  /**
   * Streamed REST reads (the usage and costs mirrors' pages and CSV exports) that may hold a pooled
   * connection at once, server-wide, while their clients read (src/usage/export-gate.ts). Unset: half
   * of DB_POOL_SIZE (at least 1).
   */
  EXPORT_CONCURRENCY: z.coerce.number().int().positive().optional(),
  /**
   * An answer whose client accepts no bytes for this long while more waits to be sent is broken off
   * (src/http/stalled-reader.ts): its connection is closed, and what the answer held — a report's tenant
   * query slot, its rows, a large GraphQL body — is given back. A reader that keeps accepting bytes is not cut.
   */
  RESPONSE_STALL_MS: z.coerce.number().int().min(1_000).default(60_000),
  GRAPHQL_MAX_ROOT_FIELDS: z.coerce.number().int().positive().default(10),
  TOKENLEDGER_SECRET_KEY: z
    .string()
    .refine((v) => parseSecretKey(v) !== undefined, 'must be 32 bytes written as 64 hex digits or base64')
    .optional(),
  /** How often every budget's current period is evaluated (besides after each ingest); `off` disables the timer. */
  BUDGET_EVALUATION_INTERVAL_MS: z.union([z.literal('off'), z.coerce.number().int().positive()]).default(60_000),
  BUDGET_WEBHOOK_TIMEOUT_MS: z.coerce.number().int().positive().default(5_000),
  BUDGET_WEBHOOK_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(50).default(10),
  /** First retry delay; each further retry waits twice as long (capped at 10 minutes). */
  BUDGET_WEBHOOK_RETRY_BASE_MS: z.coerce.number().int().positive().default(2_000),
  /** Webhook attempts one instance makes at once, and of one tenant (src/budgets/delivery-queue.ts). */
  BUDGET_WEBHOOK_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(DEFAULT_DELIVERY_LIMITS.total),
  BUDGET_WEBHOOK_TENANT_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(DEFAULT_DELIVERY_LIMITS.perTenant),
  /**
   * Whether the URLs a tenant gives the server to call — budget webhooks, a connection's base_url — may
   * reach loopback, private, link-local and other reserved addresses. Denied by default: such a URL is
   * tenant input, and the outcome comes back to the tenant (src/http/private-addresses.ts).
   */
  OUTBOUND_PRIVATE_ADDRESSES: z.enum(['deny', 'allow']).default('deny'),
  /** Raw buckets, resources and events: the current month and this many before it are kept; older month partitions are dropped. Unset: kept forever. */
  RETENTION_MONTHS: z.coerce.number().int().positive().optional(),
  /** Hourly rollups, the event id ledger and events' resources, counted the same way; at least RETENTION_MONTHS. Unset: kept forever. */
  ROLLUP_RETENTION_MONTHS: z.coerce.number().int().positive().optional(),
  /**
   * Zones besides UTC whose local days the daily rollup is also kept for (comma-separated IANA names), so
   * DAY/WEEK/MONTH × project, user or key in those zones read it (docs/performance.md "Zones"). Each zone
   * adds one more upsert of the day's keys to every bucket write; a zone added is backfilled at start-up.
   */
  ROLLUP_TIME_ZONES: z
    .string()
    .default('')
    .transform((v) => [...new Set(v.split(',').map((s) => s.trim()).filter((s) => s !== '' && s !== 'UTC'))])
    .refine((zones) => zones.every(isValidTimeZone), 'must be IANA zone names separated by commas'),
  /** Month partitions created ahead of the current one (src/db/partitions.ts). */
  PARTITION_MONTHS_AHEAD: z.coerce.number().int().min(0).max(24).default(3),
  /** How often partitions are created ahead and retention applied (also once at start-up); `off` disables the timer. */
  PARTITION_MAINTENANCE_INTERVAL_MS: z.union([z.literal('off'), z.coerce.number().int().positive()]).default(3_600_000),
  /** Connections (contract v2): `off` disables the scheduler; runs then start only on POST …/sync or the CLI. */
  TOKENLEDGER_SYNC: z.enum(['on', 'off']).default('on'),
  /** How often the scheduler looks for connections whose next run is due. */
  SYNC_TICK_MS: z.coerce.number().int().positive().default(30_000),
  /** One provider request may take this long before it is aborted (and retried). */
  SYNC_REQUEST_TIMEOUT_MS: z.coerce.number().int().positive().default(60_000),
  /** Attempts per provider request (429, 5xx, timeouts, network errors) before the run fails. */
  SYNC_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(6),
  /** First backoff delay without Retry-After; doubled per attempt, with full jitter, capped at SYNC_RETRY_MAX_MS. */
  SYNC_RETRY_BASE_MS: z.coerce.number().int().nonnegative().default(1_000),
  SYNC_RETRY_MAX_MS: z.coerce.number().int().nonnegative().default(60_000),
  /** The largest provider response body a run reads (bytes); a larger one fails the run instead of filling memory. */
  SYNC_MAX_PAGE_BYTES: z.coerce.number().int().positive().default(64 * 1024 * 1024),
  /** A run holds its connection's lease this long and renews it after every page; a dead instance's lease lapses. */
  SYNC_LEASE_MS: z.coerce.number().int().positive().default(5 * 60_000),
})

/** Every server setting's environment variable name (the README's configuration table lists each: test/docs.test.ts). */
export const CONFIG_NAMES: readonly string[] = Object.keys(ConfigFields.shape)

const ConfigSchema = ConfigFields
  // Rollups answer for hours whose raw rows are gone, never the other way round: a rollup dropped
  // while its raw rows stay would make the rollup path and the raw path disagree.
  .refine((c) => c.ROLLUP_RETENTION_MONTHS === undefined || (c.RETENTION_MONTHS !== undefined && c.ROLLUP_RETENTION_MONTHS >= c.RETENTION_MONTHS), {
    message: 'must be set together with RETENTION_MONTHS and be at least RETENTION_MONTHS',
    path: ['ROLLUP_RETENTION_MONTHS'],
  })
  .transform((c) => ({
    ...c,
    EXPORT_CONCURRENCY: c.EXPORT_CONCURRENCY ?? Math.max(1, Math.floor(c.DB_POOL_SIZE / 2)),
    BODY_BYTES_IN_FLIGHT: c.BODY_BYTES_IN_FLIGHT ?? 2 * c.BODY_LIMIT,
  }))
  // Refused rather than clamped: a slow reader holds its connection for as long as it reads, so exports
  // allowed the whole pool would let slow readers answer every other request with 503 again. PGlite has
  // no pool (one connection, and an export holds it only for its statement): the rule is PostgreSQL's.
  .refine((c) => c.DATABASE_URL === undefined || c.EXPORT_CONCURRENCY < c.DB_POOL_SIZE, {
    message: 'must be less than DB_POOL_SIZE (a streamed export holds a pooled connection while its client reads, and at least one must stay for every other request; with DB_POOL_SIZE=1 there is none to spare — use at least 2)',
    path: ['EXPORT_CONCURRENCY'],
  })

  // PostgreSQL answers a statement at STATEMENT_TIMEOUT_MS at the latest; a shorter deadline would close
  // connections that are only waiting for a slow statement's answer.
  .refine((c) => typeof c.DB_RESPONSE_TIMEOUT_MS !== 'number' || c.DB_RESPONSE_TIMEOUT_MS > c.STATEMENT_TIMEOUT_MS, {
    message: 'must be greater than STATEMENT_TIMEOUT_MS (or off)',
    path: ['DB_RESPONSE_TIMEOUT_MS'],
  })

export type Config = z.infer<typeof ConfigSchema>

/** DB_RESPONSE_TIMEOUT_MS as the database client takes it: undefined when off. */
export function responseTimeoutMs(c: Pick<Config, 'DB_RESPONSE_TIMEOUT_MS' | 'STATEMENT_TIMEOUT_MS'>): number | undefined {
  if (c.DB_RESPONSE_TIMEOUT_MS === 'off') return undefined
  return c.DB_RESPONSE_TIMEOUT_MS ?? c.STATEMENT_TIMEOUT_MS + 15_000
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return parseEnv(ConfigSchema, env, 'invalid configuration')
}

function parseEnv<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv, what: string): z.infer<S> {
  // An empty variable (`FOO=`) means "not set", as in most twelve-factor tooling.
  const set = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''))
  const parsed = schema.safeParse(set)
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')
    throw new Error(`${what}: ${problems}`)
  }
  return parsed.data
}

/** The CLI's environment (`tokenledger …`); flags override it. Server commands read only these. */
export const CliConfigSchema = z.object({
  TOKENLEDGER_URL: outboundUrl('http://127.0.0.1:3000').default('http://127.0.0.1:3000'),
  TOKENLEDGER_KEY: z.string().min(1).optional(),
  TOKENLEDGER_ADMIN_TOKEN: z.string().min(1).optional(),
  /** Seconds a request that sends no file may wait for the server's whole answer (an upload is bounded by the server). */
  TOKENLEDGER_TIMEOUT: z.coerce.number().positive().max(86_400).default(30),
})

export type CliConfig = z.infer<typeof CliConfigSchema>

export function loadCliConfig(env: NodeJS.ProcessEnv = process.env): CliConfig {
  return parseEnv(CliConfigSchema, env, 'invalid environment')
}
