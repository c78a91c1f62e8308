// npm run bench [-- --smoke] [-- --size N] [-- --engine postgres|pglite|both]
//
// Runs each tokenledger metric side by side with its baseline in the same run, on PostgreSQL
// (BENCH_DATABASE_URL; the harness creates and drops its own database) and on PGlite, and writes
// bench/results.json plus a markdown table. --smoke runs a tiny size so CI keeps the harness alive.
import { writeFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import Fastify, { type FastifyInstance } from 'fastify'
import app from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { createPgliteDb, createPostgresDb, type Db, type DbClient, type Engine } from '../src/db/client.js'
import { migrate } from '../src/db/migrate.js'
import { ensureDefaultCard } from '../src/pricing/catalog/default-card.js'

const { values: args } = parseArgs({
  options: {
    smoke: { type: 'boolean', default: false },
    size: { type: 'string' },
    engine: { type: 'string', default: 'both' },
  },
})
const SMOKE = args.smoke!
const SIZE = Number(args.size ?? (SMOKE ? 2_000 : 1_000_000))
const INGEST_ROWS = SMOKE ? 2_000 : 100_000
const REPEATS = SMOKE ? 2 : 7
const ADMIN = 'bench-admin-token-0123456789abcdef'
const MODELS = ['gpt-5-2025-08-07', 'gpt-5-mini-2025-08-07', 'gpt-5-nano-2025-08-07', 'gpt-4.1-2025-04-14', 'gpt-4o-2024-08-06', 'gpt-4o-mini-2024-07-18', 'o3-2025-04-16', 'o4-mini-2025-04-16', 'gpt-4.1-mini-2025-04-14', 'unknown-model']

interface Metric {
  engine: Engine
  name: string
  value: number
  unit: string
  baseline: number | null
  baselineName: string | null
  ratio: number | null
  target: string
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

async function timeIt(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now()
  await fn()
  return performance.now() - t0
}

async function openEngine(engine: Engine): Promise<{ db: DbClient; drop: () => Promise<void>; url?: string }> {
  if (engine === 'pglite') {
    const db = await createPgliteDb({ dataDir: 'memory://' })
    await migrate(db)
    await ensureDefaultCard(db)
    return { db, drop: () => db.close() }
  }
  const base = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL
  if (!base) throw new Error('BENCH_DATABASE_URL is not set')
  const name = `tokenledger_bench_${process.pid}`
  const admin = createPostgresDb({ url: base, poolSize: 1 })
  await admin.query(`drop database if exists "${name}"`)
  await admin.query(`create database "${name}"`)
  const u = new URL(base)
  u.pathname = `/${name}`
  const db = createPostgresDb({ url: u.toString(), poolSize: 8, statementTimeoutMs: 600_000 })
  await migrate(db)
  await ensureDefaultCard(db)
  return {
    db,
    url: u.toString(),
    drop: async () => {
      await db.close()
      await admin.query(`drop database if exists "${name}" with (force)`)
      await admin.close()
    },
  }
}

/** SIZE hourly buckets over 30 days for tenant `bench`, generated in SQL (deterministic). */
async function generateBuckets(db: Db, tenant: string, n: number): Promise<void> {
  const perHour = Math.ceil(n / 720)
  await db.query(
    `insert into usage_buckets (tenant_id, provider, start_time, end_time, project_id, user_id, api_key_id, model,
       service_tier, batch, num_model_requests, input_tokens, output_tokens, in_text, cached_text, out_text, source)
     select $1, 'openai', t, t + interval '1 hour', 'proj_' || (i % 50), 'user_' || (i % 20), 'key_' || i,
       ($2::text[])[1 + (i % 10)], 'default', false, 1 + i % 7, 1000 + i % 997 + 200, 300 + i % 101,
       1000 + i % 997, 200, 300 + i % 101, 'openai_api'
     from generate_series(0, $3 - 1) as g(n),
       lateral (select timestamptz '2025-10-01T00:00:00Z' + ((n / $4) * interval '1 hour') as t, n % $4 as i) x`,
    [tenant, MODELS, n, perHour],
  )
}

function bucketRows(n: number, offset: number): Record<string, unknown>[] {
  return Array.from({ length: n }, (_, k) => {
    const i = offset + k
    return {
      start_time: 1_759_276_800 + (i % 720) * 3600,
      end_time: 1_759_276_800 + (i % 720) * 3600 + 3600,
      model: MODELS[i % 10],
      project_id: `proj_${i % 50}`,
      api_key_id: `key_${i}`,
      num_model_requests: 3,
      input_tokens: 1200 + (i % 997),
      input_cached_tokens: 200,
      output_tokens: 300 + (i % 101),
    }
  })
}

async function pool<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await fn(items[next++]!)
    }),
  )
}

async function benchIngest(server: FastifyInstance, base: string, db: DbClient, key: string, engine: Engine): Promise<Metric[]> {
  const batches = Array.from({ length: INGEST_ROWS / 1000 }, (_, b) => b * 1000)
  const http = await timeIt(() =>
    pool(batches, 4, async (offset) => {
      const res = await fetch(`${base}/v1/usage/buckets`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ buckets: bucketRows(1000, offset) }),
      })
      if (res.status !== 200) throw new Error(`ingest ${res.status}: ${await res.text()}`)
    }),
  )
  // Baseline: the best raw set-based upsert into the same table (unnest arrays), 4 at a time.
  const raw = await timeIt(() =>
    pool(batches, 4, async (offset) => {
      const rows = bucketRows(1000, offset)
      await db.query(
        `insert into usage_buckets (tenant_id, provider, start_time, end_time, project_id, api_key_id, model, service_tier,
           num_model_requests, input_tokens, output_tokens, in_text, cached_text, out_text, source)
         select 'raw', 'openai', to_timestamp(s), to_timestamp(e), p, k, m, 'default', 3, i, o, i - 200, 200, o, 'api'
         from unnest($1::text[]::int8[], $2::text[]::int8[], $3::text[], $4::text[], $5::text[], $6::text[]::int8[], $7::text[]::int8[])
           as u(s, e, p, k, m, i, o)
         on conflict on constraint usage_buckets_natural_key do update set input_tokens = excluded.input_tokens`,
        [
          rows.map((r) => String(r.start_time)),
          rows.map((r) => String(r.end_time)),
          rows.map((r) => r.project_id),
          rows.map((r) => r.api_key_id),
          rows.map((r) => r.model),
          rows.map((r) => String(r.input_tokens)),
          rows.map((r) => String(r.output_tokens)),
        ],
      )
    }),
  )
  const v = INGEST_ROWS / (http / 1000)
  const b = INGEST_ROWS / (raw / 1000)
  void server
  return [{ engine, name: 'bulk bucket ingest, JSON over HTTP (1,000 rows/request, 4 concurrent)', value: v, unit: 'rows/s', baseline: b, baselineName: 'raw unnest upsert, 4 connections', ratio: v / b, target: '≥ 0.6×' }]
}

async function benchCsv(base: string, key: string, engine: Engine): Promise<Metric> {
  const header = 'start_time,end_time,project_id,num_model_requests,user_id,api_key_id,model,batch,service_tier,input_tokens,output_tokens,input_cached_tokens'
  const lines = [header]
  for (let i = 0; i < INGEST_ROWS; i++)
    lines.push(`${1_759_276_800 + (i % 720) * 3600},${1_759_276_800 + (i % 720) * 3600 + 3600},proj_${i % 50},3.0,,csvkey_${i},${MODELS[i % 10]},FALSE,default,${1200 + (i % 997)}.0,${300 + (i % 101)}.0,200.0`)
  const body = lines.join('\n')
  const rssBefore = process.memoryUsage().rss
  const ms = await timeIt(async () => {
    const res = await fetch(`${base}/v1/usage/buckets?account_id=csv`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'text/csv' },
      body,
    })
    if (res.status !== 200) throw new Error(`csv ${res.status}: ${await res.text()}`)
  })
  const growth = (process.memoryUsage().rss - rssBefore) / 1e6
  return { engine, name: `CSV import of ${INGEST_ROWS} rows (RSS growth ${growth.toFixed(0)} MB)`, value: INGEST_ROWS / (ms / 1000), unit: 'rows/s', baseline: null, baselineName: null, ratio: null, target: '≥ 50k rows/s on PostgreSQL' }
}

async function benchQuery(base: string, db: DbClient, key: string, engine: Engine): Promise<Metric[]> {
  const query = (card: string) => ({
    query: `{ usage(from: "2025-10-01T00:00:00Z", to: "2025-10-31T00:00:00Z", window: DAY, groupBy: [MODEL], rateCard: "${card}", first: 1000) { rows { windowStart model inputTokens cost { total } } totals { cost { total } } } }`,
  })
  const gql = async (card: string) => {
    const res = await fetch(`${base}/graphql`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(query(card)) })
    const body = (await res.json()) as { errors?: unknown }
    if (body.errors) throw new Error(JSON.stringify(body.errors))
  }
  const rawSql = () =>
    db.query(`select date_trunc('day', start_time, 'UTC') d, model, sum(input_tokens), sum(output_tokens)
      from usage_buckets where tenant_id = 'bench' and start_time >= '2025-10-01' and start_time < '2025-10-31' group by 1, 2`)
  const measure = async (fn: () => Promise<unknown>) => {
    await fn()
    const xs: number[] = []
    for (let i = 0; i < REPEATS; i++) xs.push(await timeIt(fn))
    return median(xs)
  }
  const priced = await measure(() => gql('default'))
  const unpriced = await measure(() => gql('bench-empty'))
  const raw = await measure(rawSql)
  return [
    { engine, name: `GraphQL usage 30 d × DAY × MODEL, priced, p50 over ${SIZE} buckets`, value: priced, unit: 'ms', baseline: raw, baselineName: 'raw SQL GROUP BY (unpriced)', ratio: priced / raw, target: '≤ 0.1× (needs rollups)' },
    { engine, name: 'same query: priced vs unpriced (empty card)', value: priced, unit: 'ms', baseline: unpriced, baselineName: 'same query, unpriced', ratio: priced / unpriced, target: '≤ 1.3×' },
  ]
}

async function runEngine(engine: Engine): Promise<Metric[]> {
  const { db, drop } = await openEngine(engine)
  const server = Fastify({ logger: false, bodyLimit: 64 * 1024 * 1024, pluginTimeout: 600_000 })
  try {
    await server.register(app, { config: loadConfig({ DATA_DIR: 'memory://', LOG_LEVEL: 'silent', TOKENLEDGER_ADMIN_TOKEN: ADMIN }), db })
    const base = await server.listen({ port: 0, host: '127.0.0.1' })
    const admin = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }
    await fetch(`${base}/v1/tenants`, { method: 'POST', headers: admin, body: JSON.stringify({ id: 'bench', name: 'bench' }) })
    await fetch(`${base}/v1/rate-cards/bench-empty`, { method: 'PUT', headers: admin, body: JSON.stringify({ description: 'no rates', currency: 'USD' }) })
    const keyRes = await fetch(`${base}/v1/tenants/bench/api-keys`, { method: 'POST', headers: admin, body: JSON.stringify({ name: 'bench', scopes: ['ingest', 'read'] }) })
    const { key } = (await keyRes.json()) as { key: string }
    const ingestTenant = await fetch(`${base}/v1/tenants`, { method: 'POST', headers: admin, body: JSON.stringify({ id: 'bench-ingest', name: 'i' }) })
    void ingestTenant
    const ik = (await (await fetch(`${base}/v1/tenants/bench-ingest/api-keys`, { method: 'POST', headers: admin, body: JSON.stringify({ name: 'i', scopes: ['ingest'] }) })).json()) as { key: string }

    const metrics: Metric[] = []
    metrics.push(...(await benchIngest(server, base, db, ik.key, engine)))
    metrics.push(await benchCsv(base, ik.key, engine))
    process.stderr.write(`[${engine}] generating ${SIZE} buckets…\n`)
    await generateBuckets(db, 'bench', SIZE)
    if (engine === 'postgres') await db.query('analyze usage_buckets')
    metrics.push(...(await benchQuery(base, db, key, engine)))
    return metrics
  } finally {
    await server.close()
    await drop()
  }
}

const engines: Engine[] = args.engine === 'both' ? ['postgres', 'pglite'] : [args.engine as Engine]
const results: Metric[] = []
for (const engine of engines) {
  if (engine === 'postgres' && !process.env.BENCH_DATABASE_URL && !process.env.TEST_DATABASE_URL) {
    process.stderr.write('skipping PostgreSQL: BENCH_DATABASE_URL is not set\n')
    continue
  }
  results.push(...(await runEngine(engine)))
}

const fmt = (n: number | null) => (n === null ? '—' : n >= 100 ? n.toFixed(0) : n.toFixed(2))
const table = [
  '| engine | metric | value | baseline | ratio | target |',
  '|---|---|---|---|---|---|',
  ...results.map((m) => `| ${m.engine} | ${m.name} | ${fmt(m.value)} ${m.unit} | ${m.baselineName ? `${fmt(m.baseline)} ${m.unit} (${m.baselineName})` : '—'} | ${m.ratio === null ? '—' : `${m.ratio.toFixed(2)}×`} | ${m.target} |`),
].join('\n')
process.stdout.write(`\n${table}\n`)
if (!SMOKE) await writeFile(new URL('./results.json', import.meta.url), JSON.stringify({ size: SIZE, machine: '2 cores, 24 GiB, Node 20', results }, null, 2))
else process.stdout.write('smoke run: results.json not written\n')
