// Issue #12's benchmark: a connection's backfill (the server pulls 30 days of hourly OpenAI usage from a
// stub provider, page by page) against POSTing the same pages to /v1/usage/buckets directly, on one
// server process. Target: the backfill runs at ≥ 0.8× the direct rows/s, with memory that does not grow
// with history (the server's RSS is sampled through both phases).
//   BENCH_DATABASE_URL=postgres://… npx tsx bench/connections-backfill.ts [postgres|pglite] [--smoke]
// Env: BENCH_HOURS (default 720 = 30 days), BENCH_ROWS (results per hourly bucket, default 180 → 103,680 rows).
import type { Engine } from '../src/db/client.js'
import { openai } from '../src/connections/openai.js'
import { StubProvider } from '../test/connections/stub-provider.js'
import { createTarget } from './lib/database.js'
import { memoryOf, startTokenledger } from './lib/processes.js'

const ENGINE = (process.argv.find((a) => a === 'pglite' || a === 'postgres') ?? 'postgres') as Engine
const SMOKE = process.argv.includes('--smoke')
const HOURS = Number(process.env.BENCH_HOURS ?? (SMOKE ? 48 : 720))
const ROWS = Number(process.env.BENCH_ROWS ?? (SMOKE ? 20 : 180))
const ADMIN = 'bench-admin-token-0123456789abcdef'
const KEY = 'sk-admin-bench-0123456789abcdefwxyz'
const HOUR = 3_600_000
const log = (msg: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${msg}\n`)

const dataEnd = Math.floor(Date.now() / HOUR) * HOUR - 2 * HOUR
// Pages of the provider's full size (168 hourly buckets), as the real API serves them.
const stub = await new StubProvider({ openaiKey: KEY, anthropicKey: 'unused', dataStart: dataEnd - HOURS * HOUR, dataEnd, rowsPerBucket: ROWS, pageBuckets: 168 }).start()
const target = await createTarget(ENGINE, process.env.BENCH_DATABASE_URL)
const server = await startTokenledger({
  ...target.serverEnv,
  LOG_LEVEL: 'warn',
  TOKENLEDGER_ADMIN_TOKEN: ADMIN,
  TOKENLEDGER_SECRET_KEY: 'ab'.repeat(32),
  TOKENLEDGER_SYNC: 'off',
  RATE_LIMIT_PER_MINUTE: 'off',
  BUDGET_EVALUATION_INTERVAL_MS: 'off',
})
try {
  const url = server.url
  const adminHeaders = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }
  const tenant = async (id: string) => {
    await fetch(`${url}/v1/tenants`, { method: 'POST', headers: adminHeaders, body: JSON.stringify({ id, name: id }) })
    const res = await fetch(`${url}/v1/tenants/${id}/api-keys`, { method: 'POST', headers: adminHeaders, body: JSON.stringify({ name: 'bench', scopes: ['ingest', 'read'] }) })
    return { authorization: `Bearer ${((await res.json()) as { key: string }).key}`, 'content-type': 'application/json' }
  }
  const sampler = () => {
    const rss: number[] = []
    const timer = setInterval(() => void memoryOf(server.pid).then((m) => rss.push(m.rssMb), () => {}), 50)
    return { stop: () => (clearInterval(timer), rss) }
  }
  const spec = openai.endpoints.find((e) => e.name === 'completions')!
  const window = { startMs: stub.opts.dataStart, endMs: Math.ceil(Date.now() / HOUR) * HOUR, width: '1h' as const }

  // Direct: the same pages, fetched first (outside the clock), POSTed one by one with the same declared shape.
  const pages: string[] = []
  for (let cursor: string | undefined; ; ) {
    const res = await fetch(openai.pageUrl(stub.url, spec, window, cursor), { headers: openai.authHeaders(KEY) })
    const text = await res.text()
    pages.push(text)
    const page = JSON.parse(text) as { has_more: boolean; next_page: string | null }
    if (!page.has_more) break
    cursor = page.next_page!
  }
  const direct = await tenant('direct')
  const query = `provider=openai&account_id=org-bench&${spec.groupBy.map((g) => `group_by=${g}`).join('&')}`
  const before1 = (await memoryOf(server.pid)).rssMb
  const s1 = sampler()
  let rows = 0
  const t1 = performance.now()
  for (const body of pages) {
    const res = await fetch(`${url}/v1/usage/buckets?${query}`, { method: 'POST', headers: direct, body })
    if (res.status !== 200) throw new Error(`direct: ${res.status} ${await res.text()}`)
    rows += ((await res.json()) as { received: number }).received
  }
  const directSec = (performance.now() - t1) / 1000
  const rss1 = s1.stop()

  // The connection: POST …/sync, then poll until the run has finished.
  const pulled = await tenant('pulled')
  const created = await fetch(`${url}/v1/connections`, {
    method: 'POST',
    headers: pulled,
    body: JSON.stringify({ name: 'bench', provider: 'openai', admin_key: KEY, account_id: 'org-bench', base_url: stub.url, start_date: new Date(stub.opts.dataStart).toISOString(), endpoints: ['completions'] }),
  })
  const { id } = (await created.json()) as { id: string }
  const before2 = (await memoryOf(server.pid)).rssMb
  const s2 = sampler()
  const t2 = performance.now()
  const started = await fetch(`${url}/v1/connections/${id}/sync`, { method: 'POST', headers: { authorization: pulled.authorization } })
  if (started.status !== 202) throw new Error(`sync: ${started.status}`)
  let run: { status: string; rows: number; pages: number; error: string | null }
  for (;;) {
    await new Promise((r) => setTimeout(r, 25))
    run = ((await (await fetch(`${url}/v1/connections/${id}`, { headers: pulled })).json()) as { last_run: typeof run }).last_run
    if (run.status !== 'running') break
  }
  const pullSec = (performance.now() - t2) / 1000
  const rss2 = s2.stop()
  if (run.status !== 'succeeded' || run.rows !== rows) throw new Error(`backfill: ${JSON.stringify(run)} (direct stored ${rows})`)

  const fmt = (n: number) => Math.round(n).toLocaleString('en-US')
  const peak = (xs: number[]) => Math.max(...xs)
  const ratio = rows / pullSec / (rows / directSec)
  console.log('| engine | rows | pages | direct POST (rows/s) | connection backfill (rows/s) | ratio | ≥ 0.8× | RSS before → peak, direct | RSS before → peak, backfill |')
  console.log('|---|---|---|---|---|---|---|---|---|')
  console.log(
    `| ${ENGINE} | ${fmt(rows)} | ${run.pages} | ${fmt(rows / directSec)} | ${fmt(rows / pullSec)} | ${ratio.toFixed(2)}× | ${ratio >= 0.8 ? 'met' : 'missed'} | ` +
      `${fmt(before1)} → ${fmt(peak(rss1))} MB | ${fmt(before2)} → ${fmt(peak(rss2))} MB |`,
  )
} finally {
  await server.stop()
  await stub.close()
  await target.dispose()
}
