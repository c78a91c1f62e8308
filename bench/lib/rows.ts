// The measured side of each row: everything here talks to the server process over HTTP only.
import { createReadStream } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'node:http'
import type { Readable } from 'node:stream'
import type { Engine } from '../../src/db/client.js'
import { RANGE, bucketRows, csvChunk, singleEventBodies, writeCsvFile } from './data.js'
import type { DayModelSum, Raw } from './database.js'
import { type LoadResult, runLoad } from './load.js'
import { type Metric, median, pool, timeIt } from './metrics.js'
import { type Proc, memoryOf, resetPeak, startNode } from './processes.js'

export interface BenchOptions {
  size: number
  smoke: boolean
  debug: boolean
  ingestRows: number
  repeats: number
  /** Row 9's timed repetitions per case. */
  matrixRepeats: number
  loadSeconds: number
  csvRows: number
  csvStep: number
}

export interface Keys {
  /** read scope on tenant `bench` (the generated query data set). */
  bench: string
  ingestJson: string
  ingestCsv: string
  /** Row 7's two imports go to two fresh tenants, so each is "import an N-row export into a tenant". */
  csvStep: string
  csvFull: string
  events: string
}

export interface Ctx {
  engine: Engine
  server: Proc
  keys: Keys
  opts: BenchOptions
  log: (msg: string) => void
}

export interface Reference {
  groups: DayModelSum[]
  groupByMs: number
  /** Rows 1–2's raw baselines when they cannot run beside the server (PGlite). */
  ingest?: { unnestRowsPerS: number; copyRowsPerS: number }
  /** Row 9's raw GROUP BYs, measured before the server started (PGlite only). */
  matrix?: Map<string, { groups: string[]; ms: number }>
}

async function call(base: string, token: string, method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  const text = await res.text()
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 1000)}`)
  return JSON.parse(text) as Record<string, unknown>
}

/** One tenant per row, so no row's data changes another's; `bench-empty` is a card with no rates. */
export async function setupTenants(base: string, admin: string): Promise<Keys> {
  const key = async (tenant: string, scopes: string[]) => {
    // A reused database (--database) already has the tenants of an earlier run.
    await call(base, admin, 'POST', '/v1/tenants', { id: tenant, name: tenant }).catch((err: Error) => {
      if (!/: 409 /.test(err.message)) throw err
    })
    return (await call(base, admin, 'POST', `/v1/tenants/${tenant}/api-keys`, { name: 'bench', scopes })).key as string
  }
  await call(base, admin, 'PUT', '/v1/rate-cards/bench-empty', { description: 'no rates: the unpriced query', currency: 'USD' })
  return {
    bench: await key('bench', ['read']),
    ingestJson: await key('ingest-json', ['ingest']),
    ingestCsv: await key('ingest-csv', ['ingest']),
    csvStep: await key('csv-step', ['ingest']),
    csvFull: await key('csv-full', ['ingest']),
    events: await key('events', ['ingest']),
  }
}

/**
 * POST through node:http rather than fetch: undici's 300 s header timeout would abort a large CSV
 * import that the server is still (legitimately) working on.
 */
function httpPost(url: string, headers: Record<string, string>, body: string | Readable): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    // A connection per request (agent: false): after a server-side 408 a pooled keep-alive socket
    // would fail the next row with ECONNRESET.
    const req = request(url, { method: 'POST', agent: false, headers: typeof body === 'string' ? { ...headers, 'content-length': String(Buffer.byteLength(body)) } : headers }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }))
      res.on('error', reject)
    })
    req.on('error', reject)
    if (typeof body === 'string') req.end(body)
    else body.pipe(req)
  })
}

async function post(ctx: Ctx, key: string, path: string, contentType: string, body: string | Readable): Promise<Record<string, unknown>> {
  const res = await httpPost(ctx.server.url + path, { authorization: `Bearer ${key}`, 'content-type': contentType }, body)
  if (res.status !== 200) throw new Error(`POST ${path}: ${res.status} ${res.text.slice(0, 1000)}`)
  return JSON.parse(res.text) as Record<string, unknown>
}

/** Row 7: a dashboard export streamed over HTTP; server RSS idle, at 1/10 of the file, and at the full file. */
export async function benchCsvImport(ctx: Ctx): Promise<{ metrics: Metric[]; storedStep: number; storedFull: number }> {
  const { opts, server } = ctx
  const dir = await mkdtemp(join(tmpdir(), 'tokenledger-bench-csv-'))
  try {
    const stepPath = join(dir, 'step.csv')
    const fullPath = join(dir, 'full.csv')
    await writeCsvFile(stepPath, opts.csvStep)
    await writeCsvFile(fullPath, opts.csvRows)
    await new Promise((r) => setTimeout(r, 1000))
    const idle = await memoryOf(server.pid)
    const importFile = async (path: string, rows: number, key: string) => {
      const exact = await resetPeak(server.pid)
      let sampled = 0
      const sampler = setInterval(() => {
        void memoryOf(server.pid).then((m) => (sampled = Math.max(sampled, m.rssMb)), () => {})
      }, 25)
      const body = createReadStream(path)
      let response: Record<string, unknown> = {}
      const ms = await timeIt(async () => {
        response = await post(ctx, key, '/v1/usage/buckets', 'text/csv', body)
      })
      clearInterval(sampler)
      if (response.received !== rows) throw new Error(`CSV import: received ${String(response.received)}, sent ${rows}`)
      const after = await memoryOf(server.pid)
      return { ms, exact, peakMb: Math.max(sampled, exact ? after.hwmMb : 0, after.rssMb) }
    }
    ctx.log(`[${ctx.engine}] row 7: importing a ${opts.csvStep.toLocaleString('en-US')}-row and a ${opts.csvRows.toLocaleString('en-US')}-row export`)
    const step = await importFile(stepPath, opts.csvStep, ctx.keys.csvStep)
    const full = await importFile(fullPath, opts.csvRows, ctx.keys.csvFull)
    const growthStep = step.peakMb - idle.rssMb
    const growthFull = full.peakMb - idle.rssMb
    const rate = opts.csvRows / (full.ms / 1000)
    const distinct = (n: number) => n - Math.floor(n / 50)
    return {
      storedStep: distinct(opts.csvStep),
      storedFull: distinct(opts.csvRows),
      metrics: [
        {
          row: 7,
          engine: ctx.engine,
          name: `CSV import of a ${opts.csvRows.toLocaleString('en-US')}-row export, one streamed request`,
          value: rate,
          unit: 'rows/s',
          baseline: null,
          baselineName: null,
          ratio: null,
          target: '≥ 50,000 rows/s on PostgreSQL',
          met: ctx.engine === 'postgres' ? rate >= 50_000 : null,
          details: { seconds: full.ms / 1000, stepRowsPerS: opts.csvStep / (step.ms / 1000) },
        },
        {
          row: 7,
          engine: ctx.engine,
          name: `server RSS growth over idle (${idle.rssMb.toFixed(0)} MB) during that import`,
          value: growthFull,
          unit: 'MB',
          baseline: growthStep,
          baselineName: `during a ${opts.csvStep.toLocaleString('en-US')}-row import`,
          ratio: growthStep > 0 ? growthFull / growthStep : null,
          target: '< 150 MB, flat (full − 1/10 < 50 MB)',
          met: growthFull < 150 && growthFull - growthStep < 50,
          details: { idleRssMb: idle.rssMb, peakStepMb: step.peakMb, peakFullMb: full.peakMb, peakFrom: step.exact && full.exact ? 'VmHWM (reset before each import)' : 'VmRSS sampled every 25 ms' },
        },
      ],
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** Rows 1–2: 1,000-row requests, 4 in flight, JSON then CSV bodies (built before the clock starts). */
/**
 * Rows 1–2's raw baselines. On PostgreSQL they run beside the server, interleaved with it in rounds (the
 * same rows, each round's first side alternating), so both sides see the same table sizes and the same
 * machine load; PGlite's directory is the server's while it runs, so there they are measured before it
 * starts (`prepare`).
 */
export type IngestBaseline = { measuredBefore: { unnestRowsPerS: number; copyRowsPerS: number } } | { beside: Raw }

/** Rounds of rows 1–2 on PostgreSQL: enough to spread each side over the run, few enough to keep them long. */
const INGEST_ROUNDS = 5

export async function benchIngest(ctx: Ctx, baseline: IngestBaseline): Promise<Metric[]> {
  const offsets = Array.from({ length: ctx.opts.ingestRows / 1000 }, (_, b) => b * 1000)
  ctx.log(`[${ctx.engine}] rows 1–2: ${ctx.opts.ingestRows.toLocaleString('en-US')} rows as JSON, then as CSV${'beside' in baseline ? `, in ${INGEST_ROUNDS} rounds interleaved with the raw baselines` : ''}`)
  // Inputs are built before any clock starts, for both sides.
  const jsonRows = offsets.map((o) => bucketRows(1000, o))
  const jsonBodies = jsonRows.map((rows) => JSON.stringify({ buckets: rows }))
  const csvBodies = offsets.map((o) => csvChunk(1000, o))
  const postJson = (bodies: string[]) => pool(bodies, 4, async (body) => {
    const r = await post(ctx, ctx.keys.ingestJson, '/v1/usage/buckets', 'application/json', body)
    if (r.created !== 1000) throw new Error(`JSON ingest created ${String(r.created)} of 1000`)
  })
  const postCsv = (bodies: string[]) => pool(bodies, 4, async (body) => {
    const r = await post(ctx, ctx.keys.ingestCsv, '/v1/usage/buckets', 'text/csv', body)
    if (r.received !== 1000) throw new Error(`CSV ingest received ${String(r.received)} of 1000`)
  })
  let json: number, csv: number, unnest: number, copy: number
  const details: { json: Record<string, string>; csv: Record<string, string> } = { json: {}, csv: {} }
  if ('measuredBefore' in baseline) {
    json = ctx.opts.ingestRows / ((await postJson(jsonBodies)) / 1000)
    csv = ctx.opts.ingestRows / ((await postCsv(csvBodies)) / 1000)
    ;({ unnestRowsPerS: unnest, copyRowsPerS: copy } = baseline.measuredBefore)
  } else {
    const raw = baseline.beside
    const rounds = Math.min(INGEST_ROUNDS, offsets.length)
    const per = Math.ceil(offsets.length / rounds)
    const ms = { json: 0, unnest: 0, csv: 0, copy: 0 }
    const ratios: { json: string[]; csv: string[] } = { json: [], csv: [] }
    for (let r = 0; r < rounds; r++) {
      const part = <T>(xs: T[]) => xs.slice(r * per, (r + 1) * per)
      // Alternate which side goes first, so that neither always has the warmer (or the busier) minute.
      const both = async (server: () => Promise<number>, base: () => Promise<number>) => {
        if (r % 2 === 0) { const a = await server(); return [a, await base()] as const }
        const b = await base()
        return [await server(), b] as const
      }
      const [j, u] = await both(() => postJson(part(jsonBodies)), () => pool(part(jsonRows), 4, (rows) => raw.unnestUpsert('raw-json', rows)))
      const [c, p] = await both(() => postCsv(part(csvBodies)), () => pool(part(csvBodies), 4, (body) => raw.copyMerge('raw-csv', body)))
      ms.json += j; ms.unnest += u; ms.csv += c; ms.copy += p
      ratios.json.push((u / j).toFixed(2))
      ratios.csv.push((p / c).toFixed(2))
    }
    const rate = (total: number) => ctx.opts.ingestRows / (total / 1000)
    ;[json, unnest, csv, copy] = [rate(ms.json), rate(ms.unnest), rate(ms.csv), rate(ms.copy)]
    details.json = { roundRatios: ratios.json.join(' ') }
    details.csv = { roundRatios: ratios.csv.join(' ') }
  }
  const when = 'beside' in baseline ? `, interleaved in ${INGEST_ROUNDS} rounds` : ', before the server started'
  return [
    { row: 1, engine: ctx.engine, name: 'bulk bucket ingest, JSON over HTTP (1,000 rows/request, 4 concurrent)', value: json, unit: 'rows/s', baseline: unnest, baselineName: `raw unnest upsert, 4 connections${when}`, ratio: json / unnest, target: '≥ 0.6×', met: json / unnest >= 0.6, details: details.json },
    { row: 2, engine: ctx.engine, name: 'same, CSV export body (1,000 rows/request, 4 concurrent)', value: csv, unit: 'rows/s', baseline: copy, baselineName: `raw COPY to staging + merge, 4 connections${when}`, ratio: csv / copy, target: '≥ 0.5×', met: csv / copy >= 0.5, details: details.csv },
  ]
}

/** Row 3's rounds per side. */
const EVENT_ROUNDS = 3

/** Load runs as one: 2xx per second over their summed durations; latency percentiles are the rounds' medians. */
function combined(runs: LoadResult[]): LoadResult {
  const sum = (f: (r: LoadResult) => number) => runs.reduce((a, r) => a + f(r), 0)
  const ok = sum((r) => r.ok)
  const seconds = sum((r) => r.seconds)
  return { ok, non2xx: sum((r) => r.non2xx), errors: sum((r) => r.errors), timeouts: sum((r) => r.timeouts), seconds,
    p50: median(runs.map((r) => r.p50)), p99: median(runs.map((r) => r.p99)), rate: ok / seconds }
}

/** Row 3: one event per request from 64 autocannon connections, against a Fastify hello-world POST. */
export async function benchEvents(ctx: Ctx): Promise<{ metrics: Metric[]; acknowledged: number; unacknowledged: number }> {
  const templates = singleEventBodies()
  const headers = { authorization: `Bearer ${ctx.keys.events}`, 'content-type': 'application/json' }
  // The template must be a valid, new event, or the load would measure rejections.
  const probe = await post(ctx, ctx.keys.events, '/v1/usage/events', 'application/json', templates[1]!.replace('[<id>]', `probe-${Date.now()}`))
  const status = (probe.results as { status: string }[])[0]?.status
  if (status !== 'created') throw new Error(`probe event was ${String(status)}: ${JSON.stringify(probe)}`)
  ctx.log(`[${ctx.engine}] row 3: ${EVENT_ROUNDS} rounds of ${ctx.opts.loadSeconds} s of single events and of the hello-world baseline, alternating`)
  const load = (url: string, h: Record<string, string>) => runLoad({ url, headers: h, connections: 64, duration: ctx.opts.loadSeconds, templates })
  const hello = await startNode({ name: 'hello', script: 'bench/servers/hello.ts', nodeArgs: ['--import', 'tsx'], env: {}, readyPath: '/' })
  const evRuns: LoadResult[] = []
  const hwRuns: LoadResult[] = []
  try {
    const events = async () => {
      evRuns.push(await load(`${ctx.server.url}/v1/usage/events`, headers))
      // Requests in flight when the load stopped finish on the server; let them land before anything else.
      await new Promise((r) => setTimeout(r, ctx.opts.smoke ? 1000 : 2000))
    }
    const helloWorld = async () => {
      hwRuns.push(await load(`${hello.url}/`, { 'content-type': 'application/json' }))
    }
    // Alternating rounds (each side first every other round), so both sides see the same machine load.
    for (let r = 0; r < EVENT_ROUNDS; r++) {
      if (r % 2 === 0) { await events(); await helloWorld() } else { await helloWorld(); await events() }
    }
  } finally {
    await hello.stop()
  }
  const ev = combined(evRuns)
  const hw = combined(hwRuns)
  if (ev.ok === 0 || hw.ok === 0) throw new Error(`row 3: no successful requests (events ${JSON.stringify(ev)}, hello ${JSON.stringify(hw)})`)
  return {
    acknowledged: ev.ok + 1,
    // Each round may cut off one request per connection.
    unacknowledged: ev.non2xx + ev.errors + ev.timeouts + 64 * EVENT_ROUNDS,
    metrics: [
      {
        row: 3,
        engine: ctx.engine,
        name: `one event per request, durable ack, 64 concurrent clients (p50 ${ev.p50} ms, p99 ${ev.p99} ms${ev.non2xx + ev.errors ? `, ${ev.non2xx} non-2xx, ${ev.errors} errors` : ''})`,
        value: ev.rate,
        unit: 'req/s',
        baseline: hw.rate,
        baselineName: `Fastify hello-world POST, same load, alternating rounds, p50 ${hw.p50} ms`,
        ratio: ev.rate / hw.rate,
        target: '≥ 0.5×',
        met: ev.rate / hw.rate >= 0.5,
        details: { p50: ev.p50, p99: ev.p99, non2xx: ev.non2xx, errors: ev.errors, timeouts: ev.timeouts, helloP50: hw.p50, helloP99: hw.p99,
          roundRatios: evRuns.map((r, i) => (r.rate / hwRuns[i]!.rate).toFixed(2)).join(' ') },
      },
    ],
  }
}

const sumsKey = (rows: DayModelSum[]) =>
  rows
    .map((r) => `${r.day} ${r.model} ${String(BigInt(r.input))} ${String(BigInt(r.output))}`)
    .sort()
    .join('\n')

/** A comparison that is wrong is worse than none: every measured response must equal the raw GROUP BY. */
function assertSameSums(what: string, got: DayModelSum[], ref: DayModelSum[]): void {
  const a = sumsKey(got)
  const b = sumsKey(ref)
  if (a !== b || ref.length === 0) {
    const diff = a.split('\n').filter((l) => !b.includes(l)).slice(0, 5)
    throw new Error(`${what}: sums differ from the raw GROUP BY (${got.length} vs ${ref.length} groups), e.g.\n${diff.join('\n')}`)
  }
}

const USAGE_QUERY = (card: string) =>
  `{ usage(from: "${RANGE.from}", to: "${RANGE.to}", window: DAY, groupBy: [MODEL], rateCard: "${card}", first: 1000) {
    rows { windowStart model inputTokens outputTokens cost { total complete } } totals { cost { total } } pageInfo { hasNextPage } } }`

async function usageQuery(ctx: Ctx, card: string): Promise<DayModelSum[]> {
  const res = await fetch(`${ctx.server.url}/graphql`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ctx.keys.bench}`, 'content-type': 'application/json' },
    body: JSON.stringify({ query: USAGE_QUERY(card) }),
  })
  const body = (await res.json()) as {
    errors?: unknown
    data: { usage: { rows: { windowStart: string; model: string; inputTokens: number; outputTokens: number }[]; pageInfo: { hasNextPage: boolean } } }
  }
  if (body.errors || res.status !== 200) throw new Error(`GraphQL usage: ${res.status} ${JSON.stringify(body.errors)}`)
  if (body.data.usage.pageInfo.hasNextPage) throw new Error('GraphQL usage: more than one page')
  return body.data.usage.rows.map((r) => ({ day: r.windowStart.slice(0, 10), model: r.model, input: String(r.inputTokens), output: String(r.outputTokens) }))
}

/** Rows 4–5: the 30-day × DAY × MODEL query, priced (default card) and unpriced (a card with no rates). */
export async function benchQuery(ctx: Ctx, ref: Reference, raw?: Raw): Promise<Metric[]> {
  ctx.log(`[${ctx.engine}] rows 4–5: usage query, ${ctx.opts.repeats} repeats`)
  const first = await usageQuery(ctx, 'default')
  if (ctx.opts.debug) process.stderr.write(`tokenledger usage rows (first 3): ${JSON.stringify(first.slice(0, 3))}\n`)
  assertSameSums('tokenledger usage (priced)', first, ref.groups)
  assertSameSums('tokenledger usage (unpriced)', await usageQuery(ctx, 'bench-empty'), ref.groups)
  // Where the database is shared (PostgreSQL) the raw GROUP BY is timed again, interleaved with the
  // GraphQL queries, so both see the same table, cache and machine load; on PGlite it was timed in
  // phase 1, before the server took the data directory.
  const priced: number[] = []
  const unpriced: number[] = []
  const rawMs: number[] = []
  for (let i = 0; i < ctx.opts.repeats; i++) {
    priced.push(await timeIt(() => usageQuery(ctx, 'default')))
    unpriced.push(await timeIt(() => usageQuery(ctx, 'bench-empty')))
    if (raw) rawMs.push(await timeIt(() => raw.groupBy('bench')))
  }
  const p = median(priced)
  const u = median(unpriced)
  const groupByMs = raw ? median(rawMs) : ref.groupByMs
  return [
    { row: 4, engine: ctx.engine, name: `GraphQL usage 30 d × DAY × MODEL, priced, p50 over ${ctx.opts.size.toLocaleString('en-US')} buckets`, value: p, unit: 'ms', baseline: groupByMs, baselineName: 'raw SQL GROUP BY on the base table, unpriced', ratio: p / groupByMs, target: '≤ 0.1×', met: p / groupByMs <= 0.1, details: { groupByMsBeforeServer: ref.groupByMs } },
    { row: 5, engine: ctx.engine, name: 'same query, priced vs unpriced (card with no rates)', value: p, unit: 'ms', baseline: u, baselineName: 'same query, unpriced', ratio: p / u, target: '≤ 1.3×', met: p / u <= 1.3 },
  ]
}

const POSTGRAPHILE_QUERY = `{ allUsageBuckets(condition: { tenantId: "bench" },
    filter: { startTime: { greaterThanOrEqualTo: "${RANGE.from}", lessThan: "${RANGE.to}" } }) {
    groupedAggregates(groupBy: [START_TIME_TRUNCATED_TO_DAY, MODEL]) { keys sum { inputTokens outputTokens } } } }`

async function postgraphileQuery(url: string): Promise<DayModelSum[]> {
  const res = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: POSTGRAPHILE_QUERY }) })
  const body = (await res.json()) as {
    errors?: unknown
    data: { allUsageBuckets: { groupedAggregates: { keys: string[]; sum: { inputTokens: string; outputTokens: string } }[] } }
  }
  if (body.errors || res.status !== 200) throw new Error(`PostGraphile: ${res.status} ${JSON.stringify(body.errors)}`)
  return body.data.allUsageBuckets.groupedAggregates.map((g) => ({ day: g.keys[0]!.slice(0, 10), model: g.keys[1]!, input: g.sum.inputTokens, output: g.sum.outputTokens }))
}

/** PostGraphile 5 + pg-aggregates over the database, in its own process (rows 6 and 9). */
export function startPostgraphile(databaseUrl: string): Promise<Proc> {
  return startNode({
    name: 'postgraphile',
    script: 'bench/servers/postgraphile.ts',
    nodeArgs: ['--require', './bench/servers/with-resolvers.cjs', '--import', 'tsx'],
    env: { DATABASE_URL: databaseUrl, NODE_ENV: 'production' },
    ready: async (url) => {
      const res = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{__typename}"}' })
      return res.status === 200
    },
  })
}

/** Row 6 (PostgreSQL only): the same query against PostGraphile 5 + pg-aggregates, interleaved with tokenledger's. */
export async function benchPostgraphile(ctx: Ctx, ref: Reference, databaseUrl: string): Promise<Metric[]> {
  ctx.log(`[${ctx.engine}] row 6: starting PostGraphile`)
  const pgl = await startPostgraphile(databaseUrl)
  try {
    const first = await postgraphileQuery(pgl.url)
    if (ctx.opts.debug) process.stderr.write(`PostGraphile groupedAggregates (first 3): ${JSON.stringify(first.slice(0, 3))}\n`)
    assertSameSums('PostGraphile groupedAggregates', first, ref.groups)
    const ours: number[] = []
    const theirs: number[] = []
    for (let i = 0; i < ctx.opts.repeats; i++) {
      ours.push(await timeIt(() => usageQuery(ctx, 'default')))
      theirs.push(await timeIt(() => postgraphileQuery(pgl.url)))
    }
    const o = median(ours)
    const t = median(theirs)
    return [{ row: 6, engine: ctx.engine, name: 'same query, priced, p50', value: o, unit: 'ms', baseline: t, baselineName: 'PostGraphile 5 + pg-aggregates groupedAggregates (unpriced)', ratio: o / t, target: '≤ 0.5×', met: o / t <= 0.5 }]
  } finally {
    await pgl.stop()
  }
}
