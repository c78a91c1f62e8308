// Issue #12's benchmark on its own (bench/run.ts runs it as row 10): a connection's backfill of 30 days
// of hourly OpenAI usage from a stub provider vs POSTing the same pages directly, with server RSS sampled.
//   BENCH_DATABASE_URL=postgres://… npx tsx bench/connections-backfill.ts [postgres|pglite] [--smoke]
// Env: BENCH_HOURS (default 720 = 30 days), BENCH_ROWS (results per hourly bucket, default 180 → 103,680 rows).
import type { Engine } from '../src/db/client.js'
import { benchBackfill } from './lib/connections.js'
import { createTarget } from './lib/database.js'
import { startTokenledger } from './lib/processes.js'

const ENGINE = (process.argv.find((a) => a === 'pglite' || a === 'postgres') ?? 'postgres') as Engine
const SMOKE = process.argv.includes('--smoke')
const HOURS = Number(process.env.BENCH_HOURS ?? (SMOKE ? 48 : 720))
const ROWS = Number(process.env.BENCH_ROWS ?? (SMOKE ? 20 : 180))
const ADMIN = 'bench-admin-token-0123456789abcdef'

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
  const r = await benchBackfill({ url: server.url, pid: server.pid, adminToken: ADMIN, hours: HOURS, rowsPerBucket: ROWS })
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US')
  const ratio = r.pullRate / r.directRate
  console.log('| engine | rows | pages | direct POST (rows/s) | connection backfill (rows/s) | ratio | ≥ 0.8× | RSS before → peak, direct | RSS before → peak, backfill |')
  console.log('|---|---|---|---|---|---|---|---|---|')
  console.log(
    `| ${ENGINE} | ${fmt(r.rows)} | ${r.pages} | ${fmt(r.directRate)} | ${fmt(r.pullRate)} | ${ratio.toFixed(2)}× | ${ratio >= 0.8 ? 'met' : 'missed'} | ` +
      `${fmt(r.rss.directBefore)} → ${fmt(r.rss.directPeak)} MB | ${fmt(r.rss.pullBefore)} → ${fmt(r.rss.pullPeak)} MB |`,
  )
} finally {
  await server.stop()
  await target.dispose()
}
