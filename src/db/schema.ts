import { sql } from 'drizzle-orm'
import {
  bigint,
  bigserial,
  boolean,
  check,
  customType,
  foreignKey,
  index,
  integer,
  jsonb,
  numeric,
  pgTable,
  primaryKey,
  text,
  timestamp,
  unique,
  uniqueIndex,
} from 'drizzle-orm/pg-core'

// Every table that holds tenant data has tenant_id first in its primary and unique keys, so the
// schema can be distributed by tenant (Citus) as it is. tenants, api_keys, admin_tokens, rate_cards
// and rates are small reference tables.

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' })
const counter = (name: string) => bigint(name, { mode: 'number' }).notNull().default(0)
const money = (name: string) => numeric(name)
const bytea = customType<{ data: Buffer }>({ dataType: () => 'bytea' })

export const adminTokens = pgTable('admin_tokens', {
  id: integer('id').primaryKey(),
  tokenHash: text('token_hash').notNull(),
  createdAt: ts('created_at').notNull().defaultNow(),
})

export const tenants = pgTable('tenants', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  createdAt: ts('created_at').notNull().defaultNow(),
})

export const apiKeys = pgTable(
  'api_keys',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id),
    name: text('name').notNull(),
    keyHash: text('key_hash').notNull(),
    scopes: text('scopes').array().notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
    revokedAt: ts('revoked_at'),
  },
  (t) => [uniqueIndex('api_keys_key_hash_key').on(t.keyHash), index('api_keys_tenant_idx').on(t.tenantId)],
)

/**
 * The token classes every usage row is reduced to at ingest. They are counts, not money: pricing
 * happens at query time. See README "Token classes" for the derivation from partial breakdowns.
 */
const tokenClasses = {
  requests: bigint('num_model_requests', { mode: 'number' }),
  inputTokens: counter('input_tokens'),
  outputTokens: counter('output_tokens'),
  inText: counter('in_text'),
  inAudio: counter('in_audio'),
  inImage: counter('in_image'),
  cachedText: counter('cached_text'),
  cachedAudio: counter('cached_audio'),
  cachedImage: counter('cached_image'),
  cacheWrite: counter('cache_write'),
  cacheWrite1h: counter('cache_write_1h'),
  outText: counter('out_text'),
  outAudio: counter('out_audio'),
  outImage: counter('out_image'),
}

/**
 * Natural keys are stored hashed: dimensions, attribute keys and values may each be 256 characters of
 * up to 4 bytes, and a B-tree entry over all of them would exceed PostgreSQL's ~2.7 kB limit.
 * `key_hash` = usage_natural_key(…) (SQL function, migration 0003) over every natural-key column but
 * the tenant, a stored generated column (so every writer gets it); the unique index (tenant_id, start_time, key_hash) is the ON CONFLICT target. The
 * overlap probes use the plain (tenant, provider, account, usage type or resource, start) index.
 *
 * `shape` is the report shape (contract v2 "Report shapes"): the grouped dimensions of the report the
 * row came in, as text (src/ingest/shapes.ts). Rows of one provider account and usage type or resource
 * may overlap in time only with the same start, end and shape.
 */
const usageDimensions = {
  provider: text('provider').notNull(),
  accountId: text('account_id'),
  startTime: ts('start_time').notNull(),
  endTime: ts('end_time').notNull(),
  projectId: text('project_id'),
  userId: text('user_id'),
  apiKeyId: text('api_key_id'),
  model: text('model'),
  serviceTier: text('service_tier').notNull(),
  batch: boolean('batch'),
  contextTier: text('context_tier'),
  inferenceGeo: text('inference_geo'),
}

export const usageBuckets = pgTable(
  'usage_buckets',
  {
    tenantId: text('tenant_id').notNull(),
    id: bigserial('id', { mode: 'number' }).notNull(),
    ...usageDimensions,
    usageType: text('usage_type').notNull().default('completions'),
    ...tokenClasses,
    shape: text('shape').notNull().default(''),
    // In the database a NOT NULL stored generated column (migration 0003's hand-written part).
    keyHash: bytea('key_hash'),
    source: text('source').notNull(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    // Partitioned by month on start_time (migration partition_by_month, src/db/partitions.ts): every unique key of a
    // partitioned table must contain the partition key, so start_time is in the primary key.
    primaryKey({ columns: [t.tenantId, t.startTime, t.id] }),
    uniqueIndex('usage_buckets_natural_key').on(t.tenantId, t.startTime, t.keyHash),
    index('usage_buckets_overlap_idx').on(t.tenantId, t.provider, t.accountId, t.usageType, t.startTime),
    // No separate (tenant_id, start_time) index: both keys above lead with those columns, and a fifth
    // index cost every bucket write an insert (migration ingest_speed).
    check('usage_buckets_time_order', sql`${t.endTime} > ${t.startTime}`),
  ],
)

/**
 * Non-token usage (contract v2 "resources"): images, characters, audio seconds, storage bytes (a
 * gauge), sessions, search calls, or a client's own resource. `quantity` is exact; `attributes` is a
 * string → string map that is part of the natural key (image size, vector store id, …).
 */
export const usageResources = pgTable(
  'usage_resources',
  {
    tenantId: text('tenant_id').notNull(),
    id: bigserial('id', { mode: 'number' }).notNull(),
    ...usageDimensions,
    resource: text('resource').notNull(),
    attributes: jsonb('attributes').$type<Record<string, string>>().notNull().default({}),
    quantity: numeric('quantity').notNull(),
    requests: bigint('num_model_requests', { mode: 'number' }),
    reportedCost: money('reported_cost'),
    shape: text('shape').notNull().default(''),
    // In the database a NOT NULL stored generated column (migration 0003's hand-written part).
    keyHash: bytea('key_hash'),
    source: text('source').notNull(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    // Partitioned by month on start_time, like usage_buckets.
    primaryKey({ columns: [t.tenantId, t.startTime, t.id] }),
    uniqueIndex('usage_resources_natural_key').on(t.tenantId, t.startTime, t.keyHash),
    index('usage_resources_overlap_idx').on(t.tenantId, t.provider, t.accountId, t.resource, t.startTime),
    check('usage_resources_time_order', sql`${t.endTime} > ${t.startTime}`),
    check('usage_resources_quantity', sql`${t.quantity} >= 0`),
  ],
)

/**
 * Hourly rollup of usage_buckets by the dimensions that decide a price (provider, model, tier, batch,
 * context tier, inference geo) plus account, project, user, usage type and source — every bucket
 * dimension but the API key, which is as fine as the buckets themselves in typical data (one bucket per
 * key and hour), so keeping it would make the rollup as large as its base (migration 0015 added project
 * and user). Maintained by statement-level
 * triggers on usage_buckets in the writing transaction (migrations 0001, 0003, 0015), so it always equals
 * `group by date_trunc('hour', start_time), …` over the base table; the query layer reads it instead
 * when a query's windows, dimensions and rate changes all fall on whole hours (src/usage/rollups.ts).
 * `requests_known` counts the buckets that reported a request count, so a group of buckets that all
 * left it unknown still reads as unknown (null). Its key is hashed like the buckets' (`key_hash` =
 * usage_natural_key over the grouped columns but tenant and hour).
 */
export const usageBucketHourly = pgTable(
  'usage_bucket_hourly',
  {
    tenantId: text('tenant_id').notNull(),
    hour: ts('hour').notNull(),
    provider: text('provider').notNull(),
    accountId: text('account_id'),
    projectId: text('project_id'),
    userId: text('user_id'),
    model: text('model'),
    serviceTier: text('service_tier').notNull(),
    batch: boolean('batch'),
    source: text('source').notNull(),
    usageType: text('usage_type').notNull().default('completions'),
    contextTier: text('context_tier'),
    inferenceGeo: text('inference_geo'),
    bucketCount: counter('bucket_count'),
    requestsKnown: counter('requests_known'),
    ...tokenClasses,
    requests: counter('num_model_requests'),
    cacheWrite1h: counter('cache_write_1h'),
    // Buckets of the row whose start_time is not on the whole hour (migration 0010): a row where it is 0
    // stands exactly for buckets that all start at `hour`, so it serves windows in any zone.
    offHourCount: counter('off_hour_count'),
    // false only on rows migration 0015 kept from before it for hours whose buckets retention had already
    // dropped: they could not be split by project and user, so they hold those as null and the query layer
    // does not read them for a query that distinguishes project or user (src/usage/rollups.ts).
    detailed: boolean('detailed').notNull().default(true),
    // In the database a NOT NULL stored generated column (migration 0003's hand-written part).
    keyHash: bytea('key_hash'),
  },
  (t) => [
    uniqueIndex('usage_bucket_hourly_key').on(t.tenantId, t.hour, t.keyHash),
    index('usage_bucket_hourly_off_hour').on(t.tenantId, t.hour).where(sql`off_hour_count > 0`),
    index('usage_bucket_hourly_coarse').on(t.tenantId, t.hour).where(sql`not detailed`),
  ],
)

/**
 * Daily rollup of usage_buckets that keeps EVERY bucket dimension (project, user and API key too, which
 * the hourly rollup drops), summed per local day of each zone in rollup_time_zones ('UTC' always; the
 * others from ROLLUP_TIME_ZONES, src/db/rollup-zones.ts). `day` is the instant the zone's local day
 * starts that holds the buckets' start_time. Maintained by statement triggers like the hourly one
 * (migrations 0009, 0011); the query layer reads it for project/user/key groupings whose windows, range
 * and rate changes fall on that zone's midnights (src/usage/rollups.ts). `key_hash` = usage_natural_key
 * over the grouped columns but tenant, zone and day.
 */
export const usageBucketDaily = pgTable(
  'usage_bucket_daily',
  {
    tenantId: text('tenant_id').notNull(),
    timeZone: text('time_zone').notNull().default('UTC'),
    day: ts('day').notNull(),
    keyHash: bytea('key_hash').notNull(),
    provider: text('provider').notNull(),
    accountId: text('account_id'),
    projectId: text('project_id'),
    userId: text('user_id'),
    apiKeyId: text('api_key_id'),
    model: text('model'),
    serviceTier: text('service_tier').notNull(),
    batch: boolean('batch'),
    source: text('source').notNull(),
    usageType: text('usage_type').notNull(),
    contextTier: text('context_tier'),
    inferenceGeo: text('inference_geo'),
    bucketCount: counter('bucket_count'),
    requestsKnown: counter('requests_known'),
    ...tokenClasses,
    requests: counter('num_model_requests'),
    cacheWrite1h: counter('cache_write_1h'),
  },
  (t) => [uniqueIndex('usage_bucket_daily_key').on(t.tenantId, t.timeZone, t.day, t.keyHash)],
)

/**
 * The zones usage_bucket_daily is kept for: the trigger writes one row set per zone listed here, and a
 * zone is listed only once its rows are complete (the server adds and backfills it, or deletes it with
 * its rows, in one transaction: src/db/rollup-zones.ts). 'UTC' is always listed (migration 0011).
 */
export const rollupTimeZones = pgTable('rollup_time_zones', {
  timeZone: text('time_zone').primaryKey(),
  addedAt: ts('added_at').notNull().defaultNow(),
})

export const usageEvents = pgTable(
  'usage_events',
  {
    tenantId: text('tenant_id').notNull(),
    id: text('id').notNull(),
    timestamp: ts('timestamp').notNull(),
    provider: text('provider').notNull(),
    accountId: text('account_id'),
    projectId: text('project_id'),
    userId: text('user_id'),
    apiKeyId: text('api_key_id'),
    model: text('model').notNull(),
    serviceTier: text('service_tier').notNull(),
    batch: boolean('batch'),
    contextTier: text('context_tier'),
    inferenceGeo: text('inference_geo'),
    endpoint: text('endpoint'),
    requestType: text('request_type'),
    sessionId: text('session_id'),
    employeeId: text('employee_id'),
    agentId: text('agent_id'),
    labels: jsonb('labels').$type<Record<string, string>>().notNull().default({}),
    metadata: jsonb('metadata').$type<Record<string, unknown>>(),
    reportedCost: money('reported_cost'),
    reasoningTokens: bigint('reasoning_tokens', { mode: 'number' }),
    ...tokenClasses,
    receivedAt: ts('received_at').notNull().defaultNow(),
  },
  (t) => [
    // timestamp is in the key because the table is partitioned by month on it (migration partition_by_month).
    primaryKey({ columns: [t.tenantId, t.timestamp, t.id] }),
    index('usage_events_session_idx').on(t.tenantId, t.sessionId, t.timestamp),
  ],
)

/**
 * The `resources` an event carries (contract v2: beside or instead of token counters), one row each,
 * with the event's dimensions copied so that `usage` reads them as facts without a join. Written in
 * the event's transaction; `position` is the index in the event's list (equal resources may repeat).
 */
export const usageEventResources = pgTable(
  'usage_event_resources',
  {
    tenantId: text('tenant_id').notNull(),
    eventId: text('event_id').notNull(),
    timestamp: ts('timestamp').notNull(),
    position: integer('position').notNull(),
    provider: text('provider').notNull(),
    accountId: text('account_id'),
    projectId: text('project_id'),
    userId: text('user_id'),
    apiKeyId: text('api_key_id'),
    model: text('model').notNull(),
    serviceTier: text('service_tier').notNull(),
    batch: boolean('batch'),
    contextTier: text('context_tier'),
    inferenceGeo: text('inference_geo'),
    endpoint: text('endpoint'),
    requestType: text('request_type'),
    sessionId: text('session_id'),
    employeeId: text('employee_id'),
    agentId: text('agent_id'),
    labels: jsonb('labels').$type<Record<string, string>>().notNull().default({}),
    resource: text('resource').notNull(),
    attributes: jsonb('attributes').$type<Record<string, string>>().notNull().default({}),
    quantity: numeric('quantity').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.timestamp, t.eventId, t.position] }),
    check('usage_event_resources_quantity', sql`${t.quantity} >= 0`),
  ],
)

/** Idempotency ledger for events: unpartitioned, written in the same transaction as the event. */
export const usageEventIds = pgTable(
  'usage_event_ids',
  {
    tenantId: text('tenant_id').notNull(),
    id: text('id').notNull(),
    contentHash: text('content_hash').notNull(),
    timestamp: ts('timestamp').notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.id] })],
)

/**
 * The dimensions of an event rollup row, hashed. Up to 17 text columns of 256 characters (4 bytes each
 * in UTF-8) plus the labels exceed PostgreSQL's btree limit (~2.7 kB per index row), so the unique key
 * is (tenant, hour, this hash). Each text field is length-prefixed (or `-` for null), so distinct
 * dimensions always hash distinct text; jsonb prints equal labels identically. `decode(…, 'escape')`
 * with backslashes doubled is an immutable text → bytes conversion, as a generated column requires.
 */
const EVENT_ROLLUP_TEXT_KEYS = ['provider', 'account_id', 'project_id', 'user_id', 'api_key_id', 'model', 'service_tier'] as const
/** Pricing dimensions of contract v2, hashed after `batch` (migration event_tier_geo). */
const EVENT_ROLLUP_TIER_KEYS = ['context_tier', 'inference_geo'] as const
const EVENT_ROLLUP_ATTRIBUTION_KEYS = ['endpoint', 'request_type', 'session_id', 'employee_id', 'agent_id'] as const
const lengthPrefixed = (c: string) => `coalesce(length("${c}")::text || ':' || "${c}", '-')`
const eventRollupKeyHash = sql.raw(
  `sha256(decode(replace(${[
    ...EVENT_ROLLUP_TEXT_KEYS.map(lengthPrefixed),
    `coalesce("batch"::text, '-')`,
    ...EVENT_ROLLUP_TIER_KEYS.map(lengthPrefixed),
    ...EVENT_ROLLUP_ATTRIBUTION_KEYS.map(lengthPrefixed),
    `"labels"::text`,
  ].join(' || ')}, '\\', '\\\\'), 'escape'))`,
)

/** Hourly rollup of events over every attribution dimension; `usage` reads this, never raw events. */
export const usageEventRollups = pgTable(
  'usage_event_rollups',
  {
    tenantId: text('tenant_id').notNull(),
    hour: ts('hour').notNull(),
    provider: text('provider').notNull(),
    accountId: text('account_id'),
    projectId: text('project_id'),
    userId: text('user_id'),
    apiKeyId: text('api_key_id'),
    model: text('model').notNull(),
    serviceTier: text('service_tier').notNull(),
    batch: boolean('batch'),
    contextTier: text('context_tier'),
    inferenceGeo: text('inference_geo'),
    endpoint: text('endpoint'),
    requestType: text('request_type'),
    sessionId: text('session_id'),
    employeeId: text('employee_id'),
    agentId: text('agent_id'),
    labels: jsonb('labels').$type<Record<string, string>>().notNull().default({}),
    ...tokenClasses,
    reportedCost: money('reported_cost'),
    keyHash: bytea('key_hash').notNull().generatedAlwaysAs(eventRollupKeyHash),
  },
  (t) => [unique('usage_event_rollups_key').on(t.tenantId, t.hour, t.keyHash)],
)

export const rateCards = pgTable(
  'rate_cards',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    name: text('name').notNull(),
    tenantId: text('tenant_id').references(() => tenants.id),
    description: text('description'),
    currency: text('currency').notNull().default('USD'),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [uniqueIndex('rate_cards_name_key').on(t.name)],
)

export const rates = pgTable(
  'rates',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    cardId: bigint('card_id', { mode: 'number' })
      .notNull()
      .references(() => rateCards.id),
    provider: text('provider').notNull(),
    model: text('model').notNull(),
    serviceTier: text('service_tier').notNull(),
    batch: boolean('batch').notNull(),
    contextTier: text('context_tier'),
    inferenceGeo: text('inference_geo'),
    effectiveFrom: ts('effective_from').notNull(),
    effectiveTo: ts('effective_to'),
    input: money('input'),
    cachedInput: money('cached_input'),
    cacheWrite: money('cache_write'),
    cacheWrite1h: money('cache_write_1h'),
    output: money('output'),
    inputAudio: money('input_audio'),
    cachedInputAudio: money('cached_input_audio'),
    outputAudio: money('output_audio'),
    inputImage: money('input_image'),
    cachedInputImage: money('cached_input_image'),
    outputImage: money('output_image'),
    /** `[{resource, attributes, price}]`, USD per unit as decimal strings (contract v2 "Pricing, extended"). */
    unitPrices: jsonb('unit_prices').$type<{ resource: string; attributes: Record<string, string>; price: string }[]>().notNull().default([]),
    supersedes: bigint('supersedes', { mode: 'number' }),
    source: text('source'),
    recordedAt: ts('recorded_at').notNull().defaultNow(),
  },
  (t) => [
    index('rates_card_model_idx').on(t.cardId, t.provider, t.model, t.serviceTier, t.batch, t.effectiveFrom),
    // A rate is superseded at most once: the writers check it under the card's lock (rate-checks.ts,
    // default-card.ts); the database holds it for any other writer.
    uniqueIndex('rates_supersedes_once').on(t.cardId, t.supersedes).where(sql`${t.supersedes} is not null`),
    check('rates_effective_order', sql`${t.effectiveTo} is null or ${t.effectiveTo} > ${t.effectiveFrom}`),
  ],
)

/**
 * A budget is a saved usage query plus thresholds: spend is computed from the ledger whenever it is
 * needed, never kept as a counter. `filter` is the query layer's UsageFilter (camelCase, as stored);
 * the webhook secret is sealed with src/crypto/secret-box (it is needed to sign, so it cannot be hashed).
 */
export const budgets = pgTable(
  'budgets',
  {
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id),
    id: text('id').notNull(),
    name: text('name').notNull(),
    amount: numeric('amount').notNull(),
    period: text('period').notNull(),
    timeZone: text('time_zone').notNull(),
    filter: jsonb('filter').$type<Record<string, unknown>>().notNull().default({}),
    rateCard: text('rate_card').notNull(),
    thresholds: integer('thresholds').array().notNull(),
    webhookUrl: text('webhook_url'),
    webhookSecretSealed: text('webhook_secret_sealed'),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.id] }), unique('budgets_name_key').on(t.tenantId, t.name)],
)

/**
 * One row per (budget, period, threshold, amount) ever crossed: the unique key is what makes an alert happen
 * exactly once under concurrent evaluations (the amount: a budget raised mid-period is re-armed, see
 * recordAlerts). Rows are facts: later re-pricing never changes them.
 * Delivery state lives here so any instance can pick up a retry that is due.
 */
export const budgetAlerts = pgTable(
  'budget_alerts',
  {
    tenantId: text('tenant_id').notNull(),
    id: text('id').notNull(),
    budgetId: text('budget_id').notNull(),
    periodStart: ts('period_start').notNull(),
    periodEnd: ts('period_end').notNull(),
    threshold: integer('threshold').notNull(),
    amount: numeric('amount').notNull(),
    spent: numeric('spent').notNull(),
    /** Whether every usage in `spent` had a price (false: `spent` is a lower bound); null on alerts recorded before it was kept. */
    complete: boolean('complete'),
    crossedAt: ts('crossed_at').notNull(),
    /** pending (to deliver) | delivered | failed (attempts exhausted) | none (no webhook). */
    deliveryStatus: text('delivery_status').notNull(),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: ts('next_attempt_at'),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.id] }),
    unique('budget_alerts_once_key').on(t.tenantId, t.budgetId, t.periodStart, t.periodEnd, t.threshold, t.amount),
    foreignKey({ columns: [t.tenantId, t.budgetId], foreignColumns: [budgets.tenantId, budgets.id] }).onDelete('cascade'),
    index('budget_alerts_due_idx').on(t.nextAttemptAt).where(sql`delivery_status = 'pending'`),
  ],
)

/** The delivery log: one row per webhook attempt, with the receiver's status code or the error. */
export const budgetAlertDeliveries = pgTable(
  'budget_alert_deliveries',
  {
    tenantId: text('tenant_id').notNull(),
    alertId: text('alert_id').notNull(),
    attempt: integer('attempt').notNull(),
    attemptedAt: ts('attempted_at').notNull(),
    statusCode: integer('status_code'),
    error: text('error'),
    durationMs: integer('duration_ms').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.alertId, t.attempt] }),
    foreignKey({ columns: [t.tenantId, t.alertId], foreignColumns: [budgetAlerts.tenantId, budgetAlerts.id] }).onDelete('cascade'),
  ],
)

/**
 * What a provider **billed** (contract v2 "Billed costs and reconciliation"): OpenAI Costs API results
 * and cost exports, Anthropic cost_report results. Never added to usage totals; reconciliation sets
 * them beside the ledger's computed cost. `amount` is exact USD (Anthropic's cents already ÷ 100).
 * `key_hash` = sha256 of the natural key (src/billing/billed-row.ts) — a B-tree over a dozen 256-character
 * texts would exceed PostgreSQL's index row limit. `shape` is the report shape (src/billing/shapes.ts).
 */
export const billedCosts = pgTable(
  'billed_costs',
  {
    tenantId: text('tenant_id').notNull(),
    id: bigserial('id', { mode: 'number' }).notNull(),
    provider: text('provider').notNull(),
    accountId: text('account_id'),
    startTime: ts('start_time').notNull(),
    endTime: ts('end_time').notNull(),
    projectId: text('project_id'),
    apiKeyId: text('api_key_id'),
    /** OpenAI `line_item`, Anthropic `description`. */
    lineItem: text('line_item'),
    model: text('model'),
    tokenType: text('token_type'),
    costType: text('cost_type'),
    serviceTier: text('service_tier'),
    batch: boolean('batch'),
    contextTier: text('context_tier'),
    inferenceGeo: text('inference_geo'),
    amount: numeric('amount').notNull(),
    currency: text('currency').notNull(),
    quantity: numeric('quantity'),
    quantityUnit: text('quantity_unit'),
    shape: text('shape').notNull(),
    keyHash: bytea('key_hash').notNull(),
    source: text('source').notNull(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.id] }),
    uniqueIndex('billed_costs_natural_key').on(t.tenantId, t.startTime, t.keyHash),
    index('billed_costs_overlap_idx').on(t.tenantId, t.provider, t.accountId, t.startTime),
    check('billed_costs_time_order', sql`${t.endTime} > ${t.startTime}`),
  ],
)

/**
 * A provider connection (contract v2 "Connections"): tokenledger pulls the provider's usage and billed
 * costs with a sealed admin key (src/crypto/secret-box). Run state lives on the row: `synced_until`
 * per endpoint (advanced only past what was fully stored), `last_run`, and the lease (`lease_owner`,
 * `lease_until`) that lets exactly one instance pull a connection at a time across servers sharing
 * one PostgreSQL; an instance that dies mid-run lets its lease lapse.
 */
export const connections = pgTable(
  'connections',
  {
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id),
    id: text('id').notNull(),
    name: text('name').notNull(),
    provider: text('provider').notNull(),
    adminKeySealed: text('admin_key_sealed').notNull(),
    adminKeyLast4: text('admin_key_last4').notNull(),
    accountId: text('account_id'),
    baseUrl: text('base_url').notNull(),
    startDate: ts('start_date').notNull(),
    intervalMinutes: integer('interval_minutes').notNull(),
    lagHours: integer('lag_hours').notNull(),
    bucketWidth: text('bucket_width').notNull(),
    endpoints: jsonb('endpoints').$type<string[]>().notNull(),
    enabled: boolean('enabled').notNull().default(true),
    syncedUntil: jsonb('synced_until').$type<Record<string, string | null>>().notNull().default({}),
    nextRunAt: ts('next_run_at').notNull().defaultNow(),
    lastRun: jsonb('last_run').$type<Record<string, unknown>>(),
    leaseOwner: text('lease_owner'),
    leaseUntil: ts('lease_until'),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.id] }),
    unique('connections_name_key').on(t.tenantId, t.name),
    index('connections_due_idx').on(t.nextRunAt),
  ],
)
