// What budget evaluation costs ingest (issue #16's target: ≤ 10%). One server process; two tenants, one
// without budgets and one with three (a calendar month over provider buckets, a day over events, a
// rolling 30 days over both) — so every ingest of the second tenant triggers evaluation. Phases alternate
// between the tenants (plain, budgeted, plain, budgeted, …) so drift on a shared machine hits both alike;
// the medians are compared.
//   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npx tsx bench/budget-overhead.ts [pglite|postgres]
// Env: BENCH_ROUNDS (default 3), BENCH_BATCHES (1,000-row bucket requests per phase, default 20),
//      BENCH_SECONDS (single-event load per phase, default 8).
import type { Engine } from '../src/db/client.js'
import { bucketRows, singleEventBodies } from './lib/data.js'
import { createTarget } from './lib/database.js'
import { runLoad } from './lib/load.js'
import { median } from './lib/metrics.js'
import { startTokenledger } from './lib/processes.js'

const ENGINE = (process.argv[2] ?? 'postgres') as Engine
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const BATCHES = Number(process.env.BENCH_BATCHES ?? 20)
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8)
const ADMIN = 'bench-admin-token-0123456789abcdef'

const target = await createTarget(ENGINE, process.env.BENCH_DATABASE_URL)
const server = await startTokenledger({ ...target.serverEnv, LOG_LEVEL: 'warn', TOKENLEDGER_ADMIN_TOKEN: ADMIN, BUDGET_EVALUATION_INTERVAL_MS: 'off' })
try {
  const url = server.url
  const adminHeaders = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }
  const tenant = async (id: string) => {
    await fetch(`${url}/v1/tenants`, { method: 'POST', headers: adminHeaders, body: JSON.stringify({ id, name: id }) })
    const res = await fetch(`${url}/v1/tenants/${id}/api-keys`, { method: 'POST', headers: adminHeaders, body: JSON.stringify({ name: 'bench', scopes: ['ingest', 'read'] }) })
    const { key } = (await res.json()) as { key: string }
    return { authorization: `Bearer ${key}`, 'content-type': 'application/json' }
  }
  const plain = await tenant('plain')
  const budgeted = await tenant('budgeted')
  const budgets = {
    monthly: { amount: '1000', period: 'month', time_zone: 'America/New_York', thresholds: [50, 80, 100] },
    'events-daily': { amount: '5', period: 'day', filter: { sources: ['events'] }, thresholds: [100] },
    'rolling-all': { amount: '100000', period: 'rolling_30d', filter: { sources: ['api', 'events'] }, thresholds: [90] },
  }
  for (const [name, body] of Object.entries(budgets)) {
    const res = await fetch(`${url}/v1/budgets/${name}`, { method: 'PUT', headers: budgeted, body: JSON.stringify(body) })
    if (res.status !== 201) throw new Error(`budget ${name}: ${res.status} ${await res.text()}`)
  }

  let offset = 0
  const bucketPhase = async (headers: Record<string, string>) => {
    const bodies = Array.from({ length: BATCHES }, () => JSON.stringify({ buckets: bucketRows(1000, (offset += 1000)) }))
    const started = performance.now()
    for (const body of bodies) {
      const res = await fetch(`${url}/v1/usage/buckets`, { method: 'POST', headers, body })
      if (res.status !== 200) throw new Error(`buckets: ${res.status} ${await res.text()}`)
    }
    return (BATCHES * 1000) / ((performance.now() - started) / 1000)
  }
  const eventPhase = async (headers: Record<string, string>) => {
    const r = await runLoad({ url: `${url}/v1/usage/events`, headers, connections: 64, duration: SECONDS, templates: singleEventBodies() })
    if (r.non2xx || r.errors) throw new Error(`events: ${r.non2xx} non-2xx, ${r.errors} errors`)
    return r.rate
  }
  const settle = () => new Promise((r) => setTimeout(r, 2000))

  const rates = { bucketsPlain: [] as number[], bucketsBudgeted: [] as number[], eventsPlain: [] as number[], eventsBudgeted: [] as number[] }
  await bucketPhase(plain) // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    rates.bucketsPlain.push(await bucketPhase(plain))
    await settle()
    rates.bucketsBudgeted.push(await bucketPhase(budgeted))
    await settle()
    rates.eventsPlain.push(await eventPhase(plain))
    await settle()
    rates.eventsBudgeted.push(await eventPhase(budgeted))
    await settle()
  }
  const row = (what: string, a: number[], b: number[]) => {
    const cost = (1 - median(b) / median(a)) * 100
    return `| ${ENGINE} | ${what} | ${Math.round(median(a)).toLocaleString('en-US')} | ${Math.round(median(b)).toLocaleString('en-US')} | ${cost.toFixed(1)} % | ${cost <= 10 ? 'met' : 'missed'} |`
  }
  console.log('| engine | ingest | without budgets (/s) | with 3 budgets (/s) | cost | ≤ 10 % |\n|---|---|---|---|---|---|')
  console.log(row(`buckets, 1,000-row requests, sequential (rows/s)`, rates.bucketsPlain, rates.bucketsBudgeted))
  console.log(row(`single events, 64 connections (events/s)`, rates.eventsPlain, rates.eventsBudgeted))
  console.log(`(medians of ${ROUNDS} alternating phases; raw: ${JSON.stringify(rates)})`)
} finally {
  await server.stop()
  await target.dispose()
}
