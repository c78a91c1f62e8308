import { sql } from 'drizzle-orm'
import { arrayLiteral } from '../array-literal.js'
import type { Db } from '../client.js'
import { TOKEN_COUNTERS } from '../token-columns.js'
import { metadataJson, type NormalizedEvent } from '../../ingest/events/normalize-event.js'

// Every statement here is set-based: a batch is sent as one array literal per column (arrayLiteral)
// and unnested in SQL, so a request of 10,000 events is a handful of round trips.

type Cell = string | null
type Column = readonly [name: string, pgType: string, get: (e: NormalizedEvent) => Cell]

const str = (v: string | null): Cell => v
const num = (v: number | null): Cell => (v === null ? null : String(v))

const DIMENSIONS: readonly Column[] = [
  ['provider', 'text', (e) => e.provider],
  ['account_id', 'text', (e) => str(e.account_id)],
  ['project_id', 'text', (e) => str(e.project_id)],
  ['user_id', 'text', (e) => str(e.user_id)],
  ['api_key_id', 'text', (e) => str(e.api_key_id)],
  ['model', 'text', (e) => e.model],
  ['service_tier', 'text', (e) => e.service_tier],
  ['batch', 'bool', (e) => (e.batch === null ? null : String(e.batch))],
  ['context_tier', 'text', (e) => e.context_tier ?? null],
  ['inference_geo', 'text', (e) => e.inference_geo ?? null],
  ['endpoint', 'text', (e) => str(e.endpoint)],
  ['request_type', 'text', (e) => str(e.request_type)],
  ['session_id', 'text', (e) => str(e.session_id)],
  ['employee_id', 'text', (e) => str(e.employee_id)],
  ['agent_id', 'text', (e) => str(e.agent_id)],
  ['labels', 'jsonb', (e) => JSON.stringify(e.labels)],
]

/** Token-class columns, summed into the rollup. */
const COUNTERS: readonly Column[] = TOKEN_COUNTERS.map(({ key, column }): Column => [column, 'int8', (e) => num(e.tokens[key])])

const EVENT_ONLY: readonly Column[] = [
  ['id', 'text', (e) => e.id],
  ['timestamp', 'timestamptz', (e) => e.timestamp.toISOString()],
  ['metadata', 'jsonb', (e) => (e.metadata === null ? null : metadataJson(e.metadata))],
  ['reported_cost', 'numeric', (e) => str(e.reported_cost)],
  ['reasoning_tokens', 'int8', (e) => num(e.reasoning_tokens)],
  ['num_model_requests', 'int8', (e) => num(e.tokens.requests ?? 1)],
]

const ALL = [...EVENT_ONLY, ...DIMENSIONS, ...COUNTERS]

export interface NewEvent {
  event: NormalizedEvent
  hash: string
}

const q = (name: string) => `"${name}"`
const names = (cols: readonly Column[], prefix = '') => cols.map(([n]) => prefix + q(n)).join(', ')
const cast = (type: string) => `::${type}[]`
// $1 is the tenant, $2… one array per column, then the content hashes.
const unnestArgs = ALL.map(([, type], i) => `$${i + 2}${cast(type)}`).join(', ')
const HASHES = `$${ALL.length + 2}::text[]`
// The events' resources, one array per field, one element per resource (event id, position in its list).
const R = ALL.length + 3
const RESOURCES = `unnest($${R}::text[], $${R + 1}::int4[], $${R + 2}::text[], $${R + 3}::jsonb[], $${R + 4}::numeric[])
    as r(event_id, position, resource, attributes, quantity)`
// Positions 1 and 2 of the rollup select are tenant and hour; the dimensions follow.
const KEY_POSITIONS = Array.from({ length: DIMENSIONS.length + 1 }, (_, i) => i + 2).join(', ')

/**
 * Claims the ids in the idempotency ledger, then stores the events this statement claimed and adds
 * them to the hourly rollups — one statement, built once: compiling a large drizzle template per
 * request cost more CPU than the database spent running it.
 *
 * - A concurrent transaction inserting the same id makes the claim wait for its outcome (unique
 *   index), so an id is claimed — and its event counted — exactly once.
 * - Ids are claimed in id order and rollup rows upserted in key order, so concurrent batches lock
 *   rows in the same order and cannot deadlock, whatever order their events arrive in.
 */
const CLAIM_AND_INSERT = `
  with u as materialized (
    select * from unnest(${unnestArgs}, ${HASHES}) as u(${names(ALL)}, content_hash)
  ),
  claimed as (
    insert into usage_event_ids (tenant_id, id, content_hash, timestamp)
    select $1, u.id, u.content_hash, u.timestamp from u
    order by u.id collate "C"
    on conflict (tenant_id, id) do nothing
    returning id
  ),
  n as materialized (select u.* from u join claimed on claimed.id = u.id),
  ev as (
    insert into usage_events (tenant_id, ${names(ALL)})
    select $1, ${names(ALL, 'n.')} from n
  ),
  res as (
    insert into usage_event_resources (tenant_id, event_id, timestamp, position, ${names(DIMENSIONS)}, resource, attributes, quantity)
    select $1, n.id, n.timestamp, r.position, ${names(DIMENSIONS, 'n.')}, r.resource, r.attributes, r.quantity
    from ${RESOURCES} join n on n.id = r.event_id
  ),
  rolled as (
    insert into usage_event_rollups (tenant_id, hour, ${names(DIMENSIONS)},
      num_model_requests, ${names(COUNTERS)}, reported_cost)
    select $1, date_trunc('hour', n.timestamp, 'UTC'), ${names(DIMENSIONS, 'n.')},
      count(*), ${COUNTERS.map(([c]) => `sum(n.${q(c)})`).join(', ')}, sum(n.reported_cost)
    from n
    group by ${KEY_POSITIONS}
    order by ${KEY_POSITIONS}
    on conflict on constraint usage_event_rollups_key do update set
      num_model_requests = coalesce(usage_event_rollups.num_model_requests, 0) + excluded.num_model_requests,
      ${COUNTERS.map(([c]) => `${q(c)} = usage_event_rollups.${q(c)} + excluded.${q(c)}`).join(',\n      ')},
      reported_cost = case
        when usage_event_rollups.reported_cost is null and excluded.reported_cost is null then null
        else coalesce(usage_event_rollups.reported_cost, 0) + coalesce(excluded.reported_cost, 0) end
  )
  select id from claimed`

function claimAndInsertParams(tenantId: string, rows: readonly NewEvent[]): unknown[] {
  const res = rows.flatMap((r) => (r.event.resources ?? []).map((x, i) => [r.event.id, String(i), x.resource, JSON.stringify(x.attributes), x.quantity] as const))
  const column = (k: 0 | 1 | 2 | 3 | 4) => arrayLiteral(res.map((x) => x[k]))
  return [tenantId, ...ALL.map(([, , get]) => arrayLiteral(rows.map((r) => get(r.event)))), arrayLiteral(rows.map((r) => r.hash)), ...([0, 1, 2, 3, 4] as const).map(column)]
}

/**
 * Stores the events whose ids are new; returns those ids (the others already existed). The caller
 * runs this inside its transaction, so ledger, events and rollups commit together.
 */
export async function claimAndInsertEvents(db: Db, tenantId: string, rows: readonly NewEvent[]): Promise<Set<string>> {
  if (rows.length === 0) return new Set()
  const claimed = await db.query<{ id: string }>(CLAIM_AND_INSERT, claimAndInsertParams(tenantId, rows), {
    prepare: true,
  })
  return new Set(claimed.map((r) => r.id))
}

/** The stored content hash of each of these ids that exists. */
export async function getEventHashes(db: Db, tenantId: string, ids: readonly string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map()
  const rows = await db.query<{ id: string; content_hash: string }>(sql`
    select id, content_hash from usage_event_ids
    where tenant_id = ${tenantId} and id = any(${sql.param([...ids])}::text[])`)
  return new Map(rows.map((r) => [r.id, r.content_hash]))
}
