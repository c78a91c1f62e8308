// The database each engine's run works on, and the raw-SQL side of the baselines.
//
// PostgreSQL: the harness creates its own database (dropped at the end); the server under test, the
// raw baselines and PostGraphile all use it at once. PGlite: one process may own a data directory, so
// the harness prepares a temp directory in this process (migrate, generate, raw baselines), closes it
// and hands it to the server process; raw baselines on PGlite therefore run in this process before the
// server starts, against the same directory.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { PGlite } from '@electric-sql/pglite'
import postgres from 'postgres'
import { createPgliteDb, createPostgresDb, type DbClient, type Engine } from '../../src/db/client.js'
import type { JsonBucket } from './data.js'
import { RANGE } from './data.js'

export interface Target {
  engine: Engine
  /** What the tokenledger server process needs to open this database. */
  serverEnv: Record<string, string>
  /** PostgreSQL only: the database's URL (PostGraphile and the raw baselines connect to it). */
  url?: string
  /** PGlite only: the data directory. */
  dataDir?: string
  dispose(): Promise<void>
}

/**
 * `existing`: PostgreSQL only, the name of a database on the same server to run on as it is (e.g. a
 * copy of a 10M-bucket profiling database): migrated by the run, never created or dropped.
 */
export async function createTarget(engine: Engine, adminUrl: string | undefined, existing?: string): Promise<Target> {
  if (existing !== undefined && engine === 'postgres') {
    if (!adminUrl) throw new Error('BENCH_DATABASE_URL is not set')
    const u = new URL(adminUrl)
    u.pathname = `/${existing}`
    const url = u.toString()
    return { engine, url, serverEnv: { DATABASE_URL: url }, dispose: async () => {} }
  }
  if (engine === 'pglite') {
    const dataDir = await mkdtemp(join(tmpdir(), 'tokenledger-bench-pglite-'))
    return { engine, dataDir, serverEnv: { DATA_DIR: dataDir }, dispose: () => rm(dataDir, { recursive: true, force: true }) }
  }
  if (!adminUrl) throw new Error('BENCH_DATABASE_URL is not set')
  const name = `tokenledger_bench_${process.pid}`
  const admin = createPostgresDb({ url: adminUrl, poolSize: 1 })
  await admin.query(`drop database if exists "${name}" with (force)`)
  await admin.query(`create database "${name}"`)
  // PostGraphile's truncated-to-day groups by date_trunc in the session time zone; tokenledger's
  // windows are UTC here, so both must agree.
  await admin.query(`alter database "${name}" set timezone to 'UTC'`)
  const u = new URL(adminUrl)
  u.pathname = `/${name}`
  const url = u.toString()
  return {
    engine,
    url,
    serverEnv: { DATABASE_URL: url },
    async dispose() {
      await admin.query(`drop database if exists "${name}" with (force)`)
      await admin.close()
    },
  }
}

/** tokenledger's own client on the target, for migrating and generating data. */
export async function openSetupDb(t: Target): Promise<DbClient> {
  if (t.engine === 'pglite') return createPgliteDb({ dataDir: t.dataDir! })
  return createPostgresDb({ url: t.url!, poolSize: 2, statementTimeoutMs: 3_600_000 })
}

export interface DayModelSum {
  day: string
  model: string
  input: string
  output: string
}

/** The raw-SQL baselines, on a plain driver connection (postgres.js, 4 connections) or a plain PGlite. */
export interface Raw {
  /** Row 1's baseline: one set-based upsert of the rows (unnest of arrays). */
  unnestUpsert(tenant: string, rows: JsonBucket[]): Promise<void>
  /** Row 2's baseline: COPY the CSV text into a temp staging table, then one merge into usage_buckets. */
  copyMerge(tenant: string, csv: string): Promise<void>
  /** Rows 4–6's reference: the 30-day × day × model GROUP BY over the base table. */
  groupBy(tenant: string): Promise<DayModelSum[]>
  count(sql: string, params: unknown[]): Promise<number>
  /** Any read (the query matrix's GROUP BY baselines, row 9). */
  rows<T>(sql: string, params: unknown[]): Promise<T[]>
  close(): Promise<void>
}

const UNNEST = `
  insert into usage_buckets as b (tenant_id, provider, start_time, end_time, project_id, api_key_id, model, service_tier,
    num_model_requests, input_tokens, output_tokens, in_text, cached_text, out_text, source)
  select $1, 'openai', to_timestamp(s), to_timestamp(e), p, k, m, 'default', r, i, o, i - c, c, o, 'api'
  from unnest($2::int8[], $3::int8[], $4::text[], $5::text[], $6::text[], $7::int8[], $8::int8[], $9::int8[], $10::int8[])
    as u(s, e, p, k, m, r, i, c, o)
  on conflict (tenant_id, start_time, key_hash) do update set
    num_model_requests = excluded.num_model_requests, input_tokens = excluded.input_tokens,
    output_tokens = excluded.output_tokens, in_text = excluded.in_text, cached_text = excluded.cached_text,
    out_text = excluded.out_text, updated_at = now()`

const unnestParams = (tenant: string, rows: JsonBucket[]) => [
  tenant,
  rows.map((r) => r.start_time),
  rows.map((r) => r.end_time),
  rows.map((r) => r.project_id),
  rows.map((r) => r.api_key_id),
  rows.map((r) => r.model),
  rows.map((r) => r.num_model_requests),
  rows.map((r) => r.input_tokens),
  rows.map((r) => r.input_cached_tokens),
  rows.map((r) => r.output_tokens),
]

const STAGE = `create temp table csv_stage (start_time int8, end_time int8, start_time_iso text, end_time_iso text,
  project_id text, num_model_requests numeric, user_id text, api_key_id text, model text, batch boolean, service_tier text,
  input_tokens numeric, output_tokens numeric, input_cached_tokens numeric, input_uncached_tokens numeric,
  input_text_tokens numeric, output_text_tokens numeric, input_cached_text_tokens numeric, input_audio_tokens numeric,
  input_cached_audio_tokens numeric, output_audio_tokens numeric, input_image_tokens numeric,
  input_cached_image_tokens numeric, output_image_tokens numeric) on commit drop`

// Same-key rows of one file are parts of one bucket (summed), as tokenledger does.
const MERGE = `
  insert into usage_buckets (tenant_id, provider, start_time, end_time, project_id, user_id, api_key_id, model, service_tier,
    batch, num_model_requests, input_tokens, output_tokens, in_text, in_audio, in_image, cached_text, cached_audio,
    cached_image, out_text, out_audio, out_image, source)
  select $1, 'openai', to_timestamp(start_time), to_timestamp(end_time), project_id, user_id, api_key_id, model,
    service_tier, batch, sum(num_model_requests)::int8, sum(input_tokens)::int8, sum(output_tokens)::int8,
    sum(input_uncached_tokens - input_audio_tokens - input_image_tokens)::int8, sum(input_audio_tokens)::int8,
    sum(input_image_tokens)::int8, sum(input_cached_text_tokens)::int8, sum(input_cached_audio_tokens)::int8,
    sum(input_cached_image_tokens)::int8, sum(output_text_tokens)::int8, sum(output_audio_tokens)::int8,
    sum(output_image_tokens)::int8, 'openai_csv'
  from csv_stage
  group by start_time, end_time, project_id, user_id, api_key_id, model, service_tier, batch
  on conflict (tenant_id, start_time, key_hash) do update set
    num_model_requests = excluded.num_model_requests, input_tokens = excluded.input_tokens,
    output_tokens = excluded.output_tokens, in_text = excluded.in_text, in_audio = excluded.in_audio,
    in_image = excluded.in_image, cached_text = excluded.cached_text, cached_audio = excluded.cached_audio,
    cached_image = excluded.cached_image, out_text = excluded.out_text, out_audio = excluded.out_audio,
    out_image = excluded.out_image, updated_at = now()`

const GROUP_BY = `
  select to_char(date_trunc('day', start_time, 'UTC'), 'YYYY-MM-DD') as day, model,
    sum(input_tokens)::text as input, sum(output_tokens)::text as output
  from usage_buckets
  where tenant_id = $1 and start_time >= $2 and start_time < $3
  group by 1, 2`

export async function openRaw(t: Target): Promise<Raw> {
  if (t.engine === 'postgres') {
    // The server's default DB_WORK_MEM, so the raw GROUP BYs aggregate under the same memory budget.
    const sql = postgres(t.url!, { max: 4, onnotice: () => {}, connection: { statement_timeout: 3_600_000, work_mem: '64MB' } })
    return {
      async unnestUpsert(tenant, rows) {
        await sql.unsafe(UNNEST, unnestParams(tenant, rows) as postgres.ParameterOrJSON<never>[])
      },
      async copyMerge(tenant, csv) {
        await sql.begin(async (tx) => {
          await tx.unsafe(STAGE)
          const writable = await tx.unsafe('copy csv_stage from stdin (format csv, header true)').writable()
          await pipeline(Readable.from([csv]), writable)
          await tx.unsafe(MERGE, [tenant])
        })
      },
      async groupBy(tenant) {
        return (await sql.unsafe(GROUP_BY, [tenant, RANGE.from, RANGE.to])) as unknown as DayModelSum[]
      },
      async count(text, params) {
        const [row] = await sql.unsafe(`select (${text})::int8::text as n`, params as postgres.ParameterOrJSON<never>[])
        return Number(row!.n)
      },
      async rows<T>(text: string, params: unknown[]) {
        return (await sql.unsafe(text, params as postgres.ParameterOrJSON<never>[])) as unknown as T[]
      },
      close: () => sql.end({ timeout: 5 }),
    }
  }
  // PGlite runs one statement at a time: "4 connections" become 4 callers queued on one instance.
  const pg = await PGlite.create({ dataDir: t.dataDir! })
  return {
    async unnestUpsert(tenant, rows) {
      await pg.query(UNNEST, unnestParams(tenant, rows))
    },
    async copyMerge(tenant, csv) {
      await pg.transaction(async (tx) => {
        await tx.query(STAGE)
        // PGlite's COPY reads a Blob passed with the query as the file /dev/blob.
        await tx.query(`copy csv_stage from '/dev/blob' (format csv, header true)`, [], { blob: new Blob([csv]) })
        await tx.query(MERGE, [tenant])
      })
    },
    async groupBy(tenant) {
      return (await pg.query<DayModelSum>(GROUP_BY, [tenant, RANGE.from, RANGE.to])).rows
    },
    async count(text, params) {
      const { rows } = await pg.query<{ n: string }>(`select (${text})::int8::text as n`, params)
      return Number(rows[0]!.n)
    },
    async rows<T>(text: string, params: unknown[]) {
      return (await pg.query<T>(text, params)).rows
    },
    close: () => pg.close(),
  }
}
