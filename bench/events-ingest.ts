// A closer look at POST /v1/usage/events on PostgreSQL than row 3 of `npm run bench`: batches of 1,000
// events (1 and 4 in flight), re-sending a batch (the duplicate path), then one event per request from
// 64 concurrent clients. The server runs in its own process on a database created (and dropped) on
// BENCH_DATABASE_URL's server; single-event load comes from autocannon in another process.
//   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npx tsx bench/events-ingest.ts
import { createPostgresDb } from '../src/db/client.js'
import { event, singleEventBodies } from './lib/data.js'
import { createTarget } from './lib/database.js'
import { runLoad } from './lib/load.js'
import { startTokenledger } from './lib/processes.js'

const BASE = process.env.BENCH_DATABASE_URL
if (!BASE) throw new Error('set BENCH_DATABASE_URL to a PostgreSQL server URL (a database is created and dropped there)')
const BATCHES = Number(process.env.BENCH_BATCHES ?? 30)
const BATCH_SIZE = 1000
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10)
const ADMIN = 'bench-admin-token-0123456789abcdef'

const target = await createTarget('postgres', BASE)
const server = await startTokenledger({
  ...target.serverEnv,
  LOG_LEVEL: 'warn',
  TOKENLEDGER_ADMIN_TOKEN: ADMIN,
  DB_POOL_SIZE: process.env.DB_POOL_SIZE ?? '10',
  // Throughput is measured, not the per-key limit or load shedding.
  RATE_LIMIT_PER_MINUTE: 'off',
  UNDER_PRESSURE: 'off',
})
try {
  const url = server.url
  const auth = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }
  await fetch(`${url}/v1/tenants`, { method: 'POST', headers: auth, body: JSON.stringify({ id: 'bench', name: 'Bench' }) })
  const keyRes = await fetch(`${url}/v1/tenants/bench/api-keys`, { method: 'POST', headers: auth, body: JSON.stringify({ name: 'bench', scopes: ['ingest'] }) })
  const { key } = (await keyRes.json()) as { key: string }
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' }

  const postBatch = async (events: unknown[]) => {
    const res = await fetch(`${url}/v1/usage/events`, { method: 'POST', headers, body: JSON.stringify({ events }) })
    const body = (await res.json()) as { results: { status: string }[] }
    if (res.status !== 200 || body.results.some((r) => r.status !== 'created')) throw new Error(`batch failed: ${res.status}`)
  }
  const batch = (prefix: string, b: number) => Array.from({ length: BATCH_SIZE }, (_, k) => event(`${prefix}-${b}-${k}`, b * BATCH_SIZE + k))

  // 1. Batches of 1,000, sequential and 4 in flight. Bodies are built before the clock starts.
  for (const inFlight of [1, 4]) {
    const bodies = Array.from({ length: BATCHES }, (_, b) => batch(`b${inFlight}`, b))
    const started = performance.now()
    for (let i = 0; i < bodies.length; i += inFlight) await Promise.all(bodies.slice(i, i + inFlight).map(postBatch))
    const secs = (performance.now() - started) / 1000
    console.log(
      `batches of ${BATCH_SIZE}, ${inFlight} in flight: ${BATCHES * BATCH_SIZE} events in ${secs.toFixed(2)} s = ` +
        `${Math.round((BATCHES * BATCH_SIZE) / secs)} events/s (${((secs / BATCHES) * 1000 * inFlight).toFixed(0)} ms per batch)`,
    )
  }
  // Re-sending a batch: every event is a duplicate (the idempotency path).
  const t0 = performance.now()
  const res = await fetch(`${url}/v1/usage/events`, { method: 'POST', headers, body: JSON.stringify({ events: batch('b1', 0) }) })
  const dupes = ((await res.json()) as { results: { status: string }[] }).results.filter((r) => r.status === 'duplicate')
  console.log(`re-sent batch of ${BATCH_SIZE}: ${dupes.length} duplicates in ${(performance.now() - t0).toFixed(0)} ms`)

  // 2. One event per request, 64 concurrent clients, a fresh id in every request.
  const single = await runLoad({ url: `${url}/v1/usage/events`, headers, connections: 64, duration: SECONDS, templates: singleEventBodies() })
  console.log(
    `single events, 64 connections, ${single.seconds} s: ${single.ok} ok / ${single.non2xx} non-2xx / ${single.errors} errors = ` +
      `${Math.round(single.rate)} events/s; latency p50 ${single.p50} ms, p99 ${single.p99} ms`,
  )

  // Requests still in flight when autocannon stopped finish on the server: let them land before counting.
  await new Promise((r) => setTimeout(r, 3000))
  const db = createPostgresDb({ url: target.url!, poolSize: 1 })
  const [counts] = await db.query<{ events: number; ids: number }>(
    `select (select count(*) from usage_events)::int8 as events, (select count(*) from usage_event_ids)::int8 as ids`,
  )
  await db.close()
  console.log(`stored: ${counts!.events} events, ${counts!.ids} ids ` +
    `(acknowledged ${2 * BATCHES * BATCH_SIZE + single.ok}; requests cut off by the end of the run may add a few)`)
} finally {
  await server.stop()
  await target.dispose()
}
