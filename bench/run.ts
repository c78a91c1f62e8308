// npm run bench [-- --smoke] [-- --size N] [-- --engine postgres|pglite|both] [-- --ingest-rows N] [-- --csv-rows N]
//   [-- --matrix-zones UTC,Asia/Kolkata] [-- --matrix-repeats N]
//   [-- --rows 4,9] [-- --out FILE] [-- --debug] [-- --database NAME]
//
// Issue #6's benchmark: every tokenledger metric beside its baseline, measured in the same run, on
// PostgreSQL (BENCH_DATABASE_URL; the harness creates and drops its own database) and on PGlite. The
// server under test is `src/server.ts` in its own process (as `npm start` runs it), the baselines'
// servers (Fastify hello-world, PostGraphile) run in their own processes, and concurrent load comes
// from autocannon in another. Prints a markdown table; writes bench/results.json unless --smoke.
// --database NAME (PostgreSQL only): run on that existing database of the BENCH_DATABASE_URL server
// instead of a fresh one — it is migrated, the buckets are generated only when tenant `bench` has none
// (the run stops if it has a number other than --size), and it is never dropped; so a 10M run can
// reuse a copy of a 10M database (`createdb -T tl_bench10m …`).
import { readFile, writeFile } from 'node:fs/promises'
import { cpus, totalmem } from 'node:os'
import { parseArgs } from 'node:util'
import type { Engine } from '../src/db/client.js'
import { migrate } from '../src/db/migrate.js'
import { maintainPartitions } from '../src/db/partitions.js'
import { ensureDefaultCard } from '../src/pricing/catalog/default-card.js'
import { bucketRows, csvChunk, generateBuckets, RANGE } from './lib/data.js'
import { createTarget, openRaw, openSetupDb, type Target } from './lib/database.js'
import { type Metric, median, pool, table, timeIt } from './lib/metrics.js'
import { benchMatrix, limitMatrixZones, matrixZones, rawMatrix } from './lib/matrix.js'
import { benchMatrixPostgraphile } from './lib/matrix-postgraphile.js'
import { benchMirrors } from './lib/mirrors.js'
import { type Proc, startTokenledger } from './lib/processes.js'
import { backfillMetric, benchBackfill } from './lib/connections.js'
import { type BenchOptions, benchCsvImport, benchEvents, benchIngest, benchPostgraphile, benchQuery, type Reference, setupTenants } from './lib/rows.js'

const { values: args } = parseArgs({
  options: {
    smoke: { type: 'boolean', default: false },
    size: { type: 'string' },
    engine: { type: 'string', default: 'both' },
    debug: { type: 'boolean', default: false },
    'ingest-rows': { type: 'string' },
    'csv-rows': { type: 'string' },
    out: { type: 'string', default: 'bench/results.json' },
    rows: { type: 'string' },
    database: { type: 'string' },
    'matrix-zones': { type: 'string' },
    'matrix-repeats': { type: 'string' },
  },
})
/** The rows to run (--rows 4,9); all by default. Rows 1–2 and 4–5 run together. */
const ROWS = args.rows ? new Set(args.rows.split(',').map(Number)) : undefined
const wanted = (rows: number[]) => !ROWS || rows.some((r) => ROWS.has(r))
const SMOKE = args.smoke!
const SIZE = Number(args.size ?? (SMOKE ? 3_000 : 1_000_000))
if (!Number.isInteger(SIZE) || SIZE < 720) throw new Error('--size must be an integer ≥ 720 (one bucket per hour of the 30 days)')
if (args['ingest-rows'] && !(Number(args['ingest-rows']) >= 1000 && Number(args['ingest-rows']) % 1000 === 0))
  throw new Error('--ingest-rows must be a multiple of 1,000')
const CSV_ROWS = Number(args['csv-rows'] ?? (SMOKE ? SIZE : 1_000_000))
if (!Number.isInteger(CSV_ROWS) || CSV_ROWS < 1000) throw new Error('--csv-rows must be an integer ≥ 1,000')
if (args['matrix-zones']) limitMatrixZones(args['matrix-zones'].split(','))
if (args['matrix-repeats'] && !(Number(args['matrix-repeats']) >= 1)) throw new Error('--matrix-repeats must be ≥ 1')
const opts: BenchOptions = {
  size: SIZE,
  smoke: SMOKE,
  debug: args.debug!,
  /** Rows 1–2: rows sent in 1,000-row requests. */
  ingestRows: Number(args['ingest-rows'] ?? (SMOKE ? 2_000 : 100_000)),
  /** Rows 4–6: timed repetitions (after one warm-up) whose median is reported. */
  repeats: SMOKE ? 2 : 7,
  /** Row 9: timed repetitions per case (each may page through several GraphQL requests). */
  matrixRepeats: Number(args['matrix-repeats'] ?? (SMOKE ? 1 : 3)),
  /** Row 3: seconds of load against each server. */
  loadSeconds: SMOKE ? 1 : 10,
  /** Row 7: the export's rows (the issue's 1M whatever --size is) and the early step (a tenth). */
  csvRows: CSV_ROWS,
  csvStep: Math.max(100, Math.round(CSV_ROWS / 10)),
}
const ADMIN = 'bench-admin-token-0123456789abcdef'
const BASE_URL = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL
const log = (msg: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${msg}\n`)

/**
 * Phase 1, in this process: migrate, generate the query data set, and measure the raw-SQL baselines.
 * On PGlite this must finish before the server opens the directory; on PostgreSQL it is done the same
 * way so that both engines' baselines are measured alike.
 */
async function prepare(target: Target): Promise<Reference> {
  const setup = await openSetupDb(target)
  try {
    await migrate(setup)
    await ensureDefaultCard(setup)
    // The month partitions of the generated data, as a server running then would have created them
    // (otherwise every row would sit in the default partition).
    await maintainPartitions(setup, { monthsAhead: 1 }, new Date(RANGE.from))
    const [{ n }] = (await setup.query<{ n: number }>(`select count(*)::int8 as n from usage_buckets where tenant_id = 'bench'`)) as [{ n: number }]
    if (n === SIZE) log(`[${target.engine}] tenant bench already has ${SIZE.toLocaleString('en-US')} buckets: not generating`)
    else if (n !== 0) throw new Error(`tenant bench has ${n} buckets, not --size ${SIZE}: use another database or --size ${n}`)
    else {
      log(`[${target.engine}] generating ${SIZE.toLocaleString('en-US')} buckets…`)
      const ms = await timeIt(() => generateBuckets(setup, 'bench', SIZE))
      log(`[${target.engine}] generated in ${(ms / 1000).toFixed(1)} s`)
      await setup.query('vacuum analyze usage_buckets')
    }
  } finally {
    await setup.close()
  }
  const raw = await openRaw(target)
  try {
    // Rows 1–2's raw baselines: on PostgreSQL they run beside the server instead (benchIngest).
    let ingest: Reference['ingest']
    if (target.engine === 'pglite' && wanted([1, 2])) {
      const offsets = Array.from({ length: opts.ingestRows / 1000 }, (_, b) => b * 1000)
      // Inputs are built before the clock starts, as the HTTP side's request bodies are.
      const jsonChunks = offsets.map((o) => bucketRows(1000, o))
      const unnestMs = await pool(jsonChunks, 4, (rows) => raw.unnestUpsert('raw-json', rows))
      const csvChunks = offsets.map((o) => csvChunk(1000, o))
      const copyMs = await pool(csvChunks, 4, (csv) => raw.copyMerge('raw-csv', csv))
      ingest = { unnestRowsPerS: opts.ingestRows / (unnestMs / 1000), copyRowsPerS: opts.ingestRows / (copyMs / 1000) }
    }
    const groups = await raw.groupBy('bench')
    const times: number[] = []
    for (let i = 0; i < opts.repeats; i++) times.push(await timeIt(() => raw.groupBy('bench')))
    return {
      groups,
      ...(target.engine === 'pglite' && wanted([9]) ? { matrix: await rawMatrix(raw, 'bench', opts.matrixRepeats) } : {}),
      groupByMs: median(times),
      ...(ingest ? { ingest } : {}),
    }
  } finally {
    await raw.close()
  }
}

/** Phase 3: what the server stored must be what it acknowledged. */
async function verifyStored(target: Target, expected: Record<string, { min: number; max: number }>): Promise<void> {
  const raw = await openRaw(target)
  try {
    for (const [what, range] of Object.entries(expected)) {
      const [table, tenant] = what.split(':') as [string, string]
      const n = await raw.count(`select count(*) from ${table} where tenant_id = $1`, [tenant])
      if (n < range.min || n > range.max)
        throw new Error(`[${target.engine}] ${table} of tenant ${tenant}: ${n} rows stored, expected ${range.min}…${range.max}`)
    }
  } finally {
    await raw.close()
  }
}

/**
 * Waits until the server's start-up sync has listed (so backfilled) every zone of `zones`. PostgreSQL
 * only: PGlite's directory is the server's while it runs (there the first queries may read the base
 * table until the small backfill ends; results are the same either way).
 */
async function waitForZones(target: Target, zones: string[]): Promise<void> {
  const db = await openSetupDb(target)
  try {
    const started = Date.now()
    for (;;) {
      const [{ n }] = (await db.query<{ n: number }>('select count(*)::int4 as n from rollup_time_zones where time_zone = any($1::text[])', [zones])) as [{ n: number }]
      if (n === zones.length) {
        log(`[${target.engine}] daily rollup zones backfilled ${((Date.now() - started) / 1000).toFixed(1)} s after start-up`)
        return
      }
      await new Promise((r) => setTimeout(r, 1000))
    }
  } finally {
    await db.close()
  }
}

async function runEngine(engine: Engine): Promise<Metric[]> {
  const target = await createTarget(engine, BASE_URL, args.database)
  let server: Proc | undefined
  try {
    const ref = await prepare(target)
    // Row 9 reads the daily rollup of its zones off UTC (docs/performance.md "Zones"), so the server keeps
    // them; it backfills them after it is ready (about 20 s per zone at 1M buckets), and the run waits for
    // that (waitForZones). Rows 1-3 and 7 run in the same run then pay the extra zones' trigger cost too.
    const rollupZones = wanted([9]) ? matrixZones().filter((z) => z !== 'UTC').join(',') : ''
    log(`[${engine}] starting the server process${rollupZones ? ` (daily rollup zones: ${rollupZones})` : ''}`)
    server = await startTokenledger({
      ...(rollupZones ? { ROLLUP_TIME_ZONES: rollupZones } : {}),
      ...target.serverEnv,
      LOG_LEVEL: 'warn',
      TOKENLEDGER_ADMIN_TOKEN: ADMIN,
      STATEMENT_TIMEOUT_MS: '3600000',
      // Row 10 stores a connection's admin key (PostgreSQL has no generated key).
      TOKENLEDGER_SECRET_KEY: 'ab'.repeat(32),
      TOKENLEDGER_SYNC: 'off',
      // Row 10's stub provider listens on 127.0.0.1.
      OUTBOUND_PRIVATE_ADDRESSES: 'allow',
      // Throughput is measured, not the per-key limit or load shedding.
      RATE_LIMIT_PER_MINUTE: 'off',
      UNDER_PRESSURE: 'off',
    })
    if (rollupZones && engine === 'postgres') await waitForZones(target, rollupZones.split(','))
    const keys = await setupTenants(server.url, ADMIN)
    const metrics: Metric[] = []
    const ctx = { engine, server, keys, opts, log }
    const expected: Record<string, { min: number; max: number }> = {}
    const distinct = (rows: number) => rows - Math.floor(rows / 50)
    // A row that fails (a 408, a 5xx) is reported as failed and the run goes on; a dead server ends it.
    const attempt = async (rows: number[], fn: () => Promise<Metric[]>) => {
      try {
        metrics.push(...(await fn()))
      } catch (err) {
        if (await server!.failure()) throw err
        const message = (err as Error).message.split('\n')[0]!.slice(0, 200)
        log(`[${engine}] rows ${rows.join(', ')} failed: ${message}`)
        for (const row of rows)
          metrics.push({ row, engine, name: `FAILED: ${message}`, value: NaN, unit: '', baseline: null, baselineName: null, ratio: null, target: '', met: false })
        // Let the server finish what it still holds before the next row is measured.
        for (let i = 0; i < 600; i++) {
          if (await fetch(`${server!.url}/readyz`).then((r) => r.status === 200, () => false)) break
          await new Promise((r) => setTimeout(r, 1000))
        }
      }
    }
    // Row 7 first, so that "idle" is the freshly started server, not one that other rows warmed up.
    if (wanted([7])) await attempt([7], async () => {
      const csv = await benchCsvImport(ctx)
      expected['usage_buckets:csv-step'] = { min: csv.storedStep, max: csv.storedStep }
      expected['usage_buckets:csv-full'] = { min: csv.storedFull, max: csv.storedFull }
      return csv.metrics
    })
    if (wanted([1, 2])) await attempt([1, 2], async () => {
      let m: Metric[]
      if (engine === 'pglite') m = await benchIngest(ctx, { measuredBefore: ref.ingest! })
      else {
        const raw = await openRaw(target)
        try {
          m = await benchIngest(ctx, { beside: raw })
        } finally {
          await raw.close()
        }
      }
      for (const [tenant, rows] of [['raw-json', opts.ingestRows], ['raw-csv', distinct(opts.ingestRows)], ['ingest-json', opts.ingestRows], ['ingest-csv', distinct(opts.ingestRows)]] as const)
        expected[`usage_buckets:${tenant}`] = { min: rows, max: rows }
      return m
    })
    if (wanted([3])) await attempt([3], async () => {
      const events = await benchEvents(ctx)
      // Durable ack: every acknowledged event is stored; requests cut off at the end may add a few.
      expected['usage_events:events'] = { min: events.acknowledged, max: events.acknowledged + events.unacknowledged }
      return events.metrics
    })
    if (engine === 'postgres') {
      const raw = await openRaw(target)
      try {
        if (wanted([4, 5])) await attempt([4, 5], () => benchQuery(ctx, ref, raw))
        if (wanted([9])) await attempt([9], () => benchMatrix(ctx, opts.matrixRepeats, undefined, raw))
        if (wanted([9])) await attempt([9], () => benchMatrixPostgraphile(ctx, opts.matrixRepeats, raw, target.url!))
      } finally {
        await raw.close()
      }
      if (wanted([6])) await attempt([6], () => benchPostgraphile(ctx, ref, target.url!))
    } else {
      if (wanted([4, 5])) await attempt([4, 5], () => benchQuery(ctx, ref))
      if (wanted([9])) await attempt([9], () => benchMatrix(ctx, opts.matrixRepeats, ref.matrix))
    }
    // Row 10: 30 days of hourly usage pulled by a connection vs POSTed (smoke: 2 days, 20 rows an hour).
    const hours = SMOKE ? 48 : 720
    if (wanted([11])) await attempt([11], () => benchMirrors(ctx, opts.matrixRepeats))
    if (wanted([10])) await attempt([10], async () => [backfillMetric(engine, hours, await benchBackfill({ url: server!.url, pid: server!.pid, adminToken: ADMIN, hours, rowsPerBucket: SMOKE ? 20 : 180 }))])
    await server.stop()
    server = undefined
    process.stderr.write(`\n${table(metrics)}\n\n`)
    await verifyStored(target, expected)
    log(`[${engine}] stored rows match what was acknowledged`)
    return metrics
  } catch (err) {
    const died = await server?.failure()
    if (died) log(`[${engine}] the server process died: ${died}`)
    throw err
  } finally {
    await server?.stop()
    await target.dispose()
  }
}

async function machine(): Promise<string> {
  const cpu = cpus()
  let pgVersion = 'n/a'
  if (BASE_URL) {
    const postgres = (await import('postgres')).default
    const sql = postgres(BASE_URL, { max: 1, onnotice: () => {} })
    pgVersion = String((await sql`show server_version`)[0]!.server_version).split(' ')[0]!
    await sql.end()
  }
  const pglite = (JSON.parse(await readFile(new URL('../node_modules/@electric-sql/pglite/package.json', import.meta.url), 'utf8')) as { version: string }).version
  return `${cpu.length} cores (${cpu[0]?.model.trim()}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, PostgreSQL ${pgVersion} on the same host, PGlite ${pglite}; server, baselines and load generator share these cores`
}

if (!['both', 'postgres', 'pglite'].includes(args.engine!)) throw new Error('--engine must be postgres, pglite or both')
if (args.database !== undefined && (args.engine !== 'postgres' || !/^[a-z_][a-z0-9_]*$/.test(args.database)))
  throw new Error('--database NAME needs --engine postgres and a plain lower-case database name')
const engines: Engine[] = args.engine === 'both' ? ['postgres', 'pglite'] : [args.engine as Engine]
const results: Metric[] = []
for (const engine of engines) {
  if (engine === 'postgres' && !BASE_URL) {
    log('skipping PostgreSQL: BENCH_DATABASE_URL is not set')
    continue
  }
  results.push(...(await runEngine(engine)))
}

// Row 8: PGlite against PostgreSQL for rows 1 and 4.
for (const row of [1, 4]) {
  const pg = results.find((m) => m.row === row && m.engine === 'postgres')
  const lite = results.find((m) => m.row === row && m.engine === 'pglite')
  if (pg && lite && !Number.isNaN(pg.value) && !Number.isNaN(lite.value))
    results.push({
      row: 8,
      engine: 'pglite vs postgres',
      name: `row ${row}: ${lite.name}`,
      value: lite.value,
      unit: lite.unit,
      baseline: pg.value,
      baselineName: 'PostgreSQL',
      ratio: lite.value / pg.value,
      target: 'reported',
      met: null,
    })
}

const machineLine = await machine()
process.stdout.write(`\nsize ${SIZE.toLocaleString('en-US')} buckets, rows 1–2 ${opts.ingestRows.toLocaleString('en-US')} rows, row 7 ${CSV_ROWS.toLocaleString('en-US')} rows; machine: ${machineLine}\n\n${table(results)}\n`)
if (!SMOKE) {
  await writeFile(
    args.out!,
    `${JSON.stringify({ date: new Date().toISOString(), size: SIZE, ingestRows: opts.ingestRows, csvRows: CSV_ROWS, machine: machineLine, results }, null, 2)}\n`,
  )
} else process.stdout.write('smoke run: results.json not written\n')
// A failed row fails the command (CI's smoke run must notice), after the table and results are out.
if (results.some((m) => m.name.startsWith('FAILED'))) process.exitCode = 1
