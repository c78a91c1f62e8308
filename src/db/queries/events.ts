import { sql, type SQL } from 'drizzle-orm'
import type { Db } from '../client.js'
import type { NormalizedEvent } from '../../ingest/events/normalize-event.js'

// Every statement here is set-based: a batch is sent as one text[] per column and unnested in SQL,
// so a request of 10,000 events is a handful of round trips. postgres.js mis-types bool, timestamp
// and int8 arrays, so everything travels as text[] and is cast in SQL.

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
  ['endpoint', 'text', (e) => str(e.endpoint)],
  ['request_type', 'text', (e) => str(e.request_type)],
  ['session_id', 'text', (e) => str(e.session_id)],
  ['employee_id', 'text', (e) => str(e.employee_id)],
  ['agent_id', 'text', (e) => str(e.agent_id)],
  ['labels', 'jsonb', (e) => JSON.stringify(e.labels)],
]

/** Token-class columns, summed into the rollup. */
const COUNTERS: readonly Column[] = [
  ['input_tokens', 'int8', (e) => num(e.tokens.inputTokens)],
  ['output_tokens', 'int8', (e) => num(e.tokens.outputTokens)],
  ['in_text', 'int8', (e) => num(e.tokens.inText)],
  ['in_audio', 'int8', (e) => num(e.tokens.inAudio)],
  ['in_image', 'int8', (e) => num(e.tokens.inImage)],
  ['cached_text', 'int8', (e) => num(e.tokens.cachedText)],
  ['cached_audio', 'int8', (e) => num(e.tokens.cachedAudio)],
  ['cached_image', 'int8', (e) => num(e.tokens.cachedImage)],
  ['cache_write', 'int8', (e) => num(e.tokens.cacheWrite)],
  ['out_text', 'int8', (e) => num(e.tokens.outText)],
  ['out_audio', 'int8', (e) => num(e.tokens.outAudio)],
  ['out_image', 'int8', (e) => num(e.tokens.outImage)],
]

const EVENT_ONLY: readonly Column[] = [
  ['id', 'text', (e) => e.id],
  ['timestamp', 'timestamptz', (e) => e.timestamp.toISOString()],
  ['metadata', 'jsonb', (e) => (e.metadata === null ? null : JSON.stringify(e.metadata))],
  ['reported_cost', 'numeric', (e) => str(e.reported_cost)],
  ['reasoning_tokens', 'int8', (e) => num(e.reasoning_tokens)],
  ['num_model_requests', 'int8', (e) => num(e.tokens.requests ?? 1)],
]

const ALL = [...EVENT_ONLY, ...DIMENSIONS, ...COUNTERS]

const ident = (name: string): SQL => sql`${sql.identifier(name)}`
const list = (cols: readonly Column[], f: (c: Column) => SQL) => sql.join(cols.map(f), sql`, `)
const cast = (type: string) => sql.raw(type === 'text' ? '::text[]' : `::text[]::${type}[]`)

export interface NewEvent {
  event: NormalizedEvent
  hash: string
}

/** `unnest($1::text[], $2::text[]::timestamptz[], …) as u(id, timestamp, …, content_hash)`. */
function unnestEvents(rows: readonly NewEvent[]): SQL {
  const arrays = list(ALL, ([, type, get]) => sql`${sql.param(rows.map((r) => get(r.event)))}${cast(type)}`)
  const names = list(ALL, ([name]) => ident(name))
  return sql`unnest(${arrays}, ${sql.param(rows.map((r) => r.hash))}::text[]) as u(${names}, content_hash)`
}

const rollupTotal = (name: string) =>
  sql`${ident(name)} = usage_event_rollups.${ident(name)} + excluded.${ident(name)}`

/**
 * One statement: claim the ids in the idempotency ledger, then store the events this statement
 * claimed and add them to the hourly rollups. Returns the claimed ids; the others already existed.
 *
 * - A concurrent transaction inserting the same id makes the claim wait for its outcome (unique
 *   index), so an id is claimed — and its event counted — exactly once.
 * - Ids are claimed in id order and rollup rows upserted in key order, so concurrent batches lock
 *   rows in the same order and cannot deadlock, whatever order their events arrive in.
 * - The caller runs this inside its transaction, so ledger, events and rollups commit together.
 */
export async function claimAndInsertEvents(db: Db, tenantId: string, rows: readonly NewEvent[]): Promise<Set<string>> {
  if (rows.length === 0) return new Set()
  const dims = list(DIMENSIONS, ([name]) => sql`n.${ident(name)}`)
  // Positions 1 and 2 are tenant and hour; the dimensions follow.
  const keyPositions = sql.raw(Array.from({ length: DIMENSIONS.length + 1 }, (_, i) => String(i + 2)).join(', '))
  const claimed = await db.query<{ id: string }>(sql`
    with u as materialized (select * from ${unnestEvents(rows)}),
    claimed as (
      insert into usage_event_ids (tenant_id, id, content_hash, timestamp)
      select ${tenantId}, u.id, u.content_hash, u.timestamp from u
      order by u.id collate "C"
      on conflict (tenant_id, id) do nothing
      returning id
    ),
    n as materialized (select u.* from u join claimed on claimed.id = u.id),
    ev as (
      insert into usage_events (tenant_id, ${list(ALL, ([name]) => ident(name))})
      select ${tenantId}, ${list(ALL, ([name]) => sql`n.${ident(name)}`)} from n
    ),
    rolled as (
      insert into usage_event_rollups (tenant_id, hour, ${list(DIMENSIONS, ([n]) => ident(n))},
        num_model_requests, ${list(COUNTERS, ([n]) => ident(n))}, reported_cost)
      select ${tenantId}, date_trunc('hour', n.timestamp, 'UTC'), ${dims},
        count(*), ${list(COUNTERS, ([c]) => sql`sum(n.${ident(c)})`)}, sum(n.reported_cost)
      from n
      group by ${keyPositions}
      order by ${keyPositions}
      on conflict on constraint usage_event_rollups_key do update set
        num_model_requests = coalesce(usage_event_rollups.num_model_requests, 0) + excluded.num_model_requests,
        ${list(COUNTERS, ([c]) => rollupTotal(c))},
        reported_cost = case
          when usage_event_rollups.reported_cost is null and excluded.reported_cost is null then null
          else coalesce(usage_event_rollups.reported_cost, 0) + coalesce(excluded.reported_cost, 0) end
    )
    select id from claimed`)
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
