// Measures POST /v1/usage/events on PostgreSQL: batches of 1,000 events, then one event per request
// from 64 concurrent clients (autocannon, ~10 s). Runs an in-process server on port 0 against a
// database it creates (and drops) on BENCH_DATABASE_URL's server:
//   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npx tsx bench/events-ingest.ts
import { randomBytes } from 'node:crypto'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import Fastify from 'fastify'
import app from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { createPostgresDb } from '../src/db/client.js'

const BASE = process.env.BENCH_DATABASE_URL
if (!BASE) throw new Error('set BENCH_DATABASE_URL to a PostgreSQL server URL (a database is created and dropped there)')
const BATCHES = Number(process.env.BENCH_BATCHES ?? 30)
const BATCH_SIZE = 1000
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10)
const ADMIN_TOKEN = `bench-${randomBytes(16).toString('hex')}`

const withDb = (url: string, name: string) => Object.assign(new URL(url), { pathname: `/${name}` }).toString()
const dbName = `tokenledger_bench_${randomBytes(4).toString('hex')}`
const admin = createPostgresDb({ url: BASE, poolSize: 1 })
await admin.query(`create database "${dbName}"`)

const MODELS = ['gpt-4o', 'gpt-4o-mini', 'o4-mini', 'gpt-5']
let seq = 0
/** A realistic event: a few dimensions, labels on some, a raw usage object on half. */
function event(prefix: string): Record<string, unknown> {
  const i = seq++
  const base = {
    id: `${prefix}-${i}`,
    timestamp: 1772323200 + (i % 86_400),
    model: MODELS[i % MODELS.length],
    project_id: `proj-${i % 5}`,
    user_id: `user-${i % 50}`,
    session_id: `sess-${i % 200}`,
    endpoint: '/v1/chat/completions',
    labels: i % 3 === 0 ? { team: `t${i % 4}` } : {},
  }
  return i % 2
    ? { ...base, input_tokens: 500 + (i % 700), input_cached_tokens: i % 400, output_tokens: 20 + (i % 300) }
    : { ...base, usage: { prompt_tokens: 800, completion_tokens: 90, prompt_tokens_details: { cached_tokens: 256 } } }
}

// Runs in a separate node process (plain CommonJS, so no TypeScript loader is needed there).
const LOAD = `
const w = JSON.parse(process.argv[1])
const autocannon = require('autocannon')
let n = 0
const prefix = 's-' + process.pid + '-'
autocannon({ url: w.url, method: 'POST', headers: w.headers, connections: w.connections, duration: w.duration,
  requests: [{ setupRequest: (req) => ({ ...req,
    body: w.templates[n % w.templates.length].replace('[<id>]', prefix + n++) }) }] })
  .then((r) => process.stdout.write(JSON.stringify({ ok: r['2xx'], non2xx: r.non2xx, errors: r.errors,
    p50: r.latency.p50, p99: r.latency.p99 })))
`
interface LoadResult {
  ok: number
  non2xx: number
  errors: number
  p50: number
  p99: number
}
async function loadTest(opts: Record<string, unknown>): Promise<LoadResult> {
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', LOAD, JSON.stringify(opts)], {
    maxBuffer: 1 << 20,
  })
  return JSON.parse(stdout) as LoadResult
}

const config = loadConfig({
  DATABASE_URL: withDb(BASE, dbName),
  LOG_LEVEL: 'silent',
  TOKENLEDGER_ADMIN_TOKEN: ADMIN_TOKEN,
  DB_POOL_SIZE: process.env.DB_POOL_SIZE ?? '10',
})
const server = Fastify({ logger: false, bodyLimit: config.BODY_LIMIT, pluginTimeout: 0 })
await server.register(app, { config })
await server.listen({ port: 0, host: '127.0.0.1' })
const addr = server.server.address()
const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`

try {
  const auth = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }
  await fetch(`${url}/v1/tenants`, { method: 'POST', headers: auth, body: JSON.stringify({ id: 'bench', name: 'Bench' }) })
  const keyRes = await fetch(`${url}/v1/tenants/bench/api-keys`, {
    method: 'POST',
    headers: auth,
    body: JSON.stringify({ name: 'bench', scopes: ['ingest'] }),
  })
  const { key } = (await keyRes.json()) as { key: string }
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' }

  const postBatch = async (events: unknown[]) => {
    const res = await fetch(`${url}/v1/usage/events`, { method: 'POST', headers, body: JSON.stringify({ events }) })
    const body = (await res.json()) as { results: { status: string }[] }
    if (res.status !== 200 || body.results.some((r) => r.status !== 'created')) throw new Error(`batch failed: ${res.status}`)
  }

  // 1. Batches of 1,000, sequential and 4 in flight. Bodies are built before the clock starts.
  for (const inFlight of [1, 4]) {
    const bodies = Array.from({ length: BATCHES }, () => Array.from({ length: BATCH_SIZE }, () => event(`b${inFlight}`)))
    const started = performance.now()
    for (let i = 0; i < bodies.length; i += inFlight) await Promise.all(bodies.slice(i, i + inFlight).map(postBatch))
    const secs = (performance.now() - started) / 1000
    console.log(
      `batches of ${BATCH_SIZE}, ${inFlight} in flight: ${BATCHES * BATCH_SIZE} events in ${secs.toFixed(2)} s = ` +
        `${Math.round((BATCHES * BATCH_SIZE) / secs)} events/s (${((secs / BATCHES) * 1000 * inFlight).toFixed(0)} ms per batch)`,
    )
  }
  // Re-sending a batch: every event is a duplicate (the idempotency path).
  seq = 0
  const again = Array.from({ length: BATCH_SIZE }, () => event('b1'))
  const t0 = performance.now()
  const res = await fetch(`${url}/v1/usage/events`, { method: 'POST', headers, body: JSON.stringify({ events: again }) })
  const dupes = ((await res.json()) as { results: { status: string }[] }).results.filter((r) => r.status === 'duplicate')
  console.log(`re-sent batch of ${BATCH_SIZE}: ${dupes.length} duplicates in ${(performance.now() - t0).toFixed(0)} ms`)

  // 2. One event per request, 64 concurrent clients. autocannon runs in a child process so the load
  // generator does not share the server's event loop; it cycles through 200 event shapes with a
  // fresh id in every request.
  const templates = Array.from({ length: 200 }, () => {
    const { id: _id, ...rest } = event('s')
    return JSON.stringify({ events: [{ id: '[<id>]', ...rest }] })
  })
  const single = await loadTest({ url: `${url}/v1/usage/events`, headers, connections: 64, duration: SECONDS, templates })
  const ok = single.ok
  console.log(
    `single events, 64 connections, ${SECONDS} s: ${ok} ok / ${single.non2xx} non-2xx / ${single.errors} errors = ` +
      `${Math.round(ok / SECONDS)} events/s; latency p50 ${single.p50} ms, p99 ${single.p99} ms`,
  )

  // Requests still in flight when autocannon stopped finish on the server: let them land before counting.
  await new Promise((r) => setTimeout(r, 3000))
  // The stored counts must match what was acknowledged.
  const db = createPostgresDb({ url: withDb(BASE, dbName), poolSize: 1 })
  const [counts] = await db.query<{ events: number; ids: number; rolled: number }>(
    `select (select count(*) from usage_events)::int8 as events, (select count(*) from usage_event_ids)::int8 as ids,
            (select sum(num_model_requests) from usage_event_rollups)::int8 as rolled`,
  )
  await db.close()
  console.log(`stored: ${counts!.events} events, ${counts!.ids} ids, ${counts!.rolled} requests in rollups ` +
    `(acknowledged ${2 * BATCHES * BATCH_SIZE + ok}; requests cut off by the end of the run may add a few)`)
} finally {
  await server.close()
  await admin.query(`drop database if exists "${dbName}" with (force)`)
  await admin.close()
}
