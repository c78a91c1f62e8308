// Micro-benchmark of the Node CPU of one bench-row-1 request — 1,000 canonical JSON buckets
// (bench/lib/data.ts `bucketRows`) — before the driver: `JSON.parse` of the body, then `ingestJsonBody`
// against a stand-in database that renders every statement with drizzle's PgDialect (as src/db/client.ts
// does) and answers as PostgreSQL answers a re-post of stored shapes, the bench's steady state (locks taken
// shared, 1,000 rows replaced). No server, no database, no socket: what is left is the server's own work
// per request that scales with rows. CPU time of the measuring process (`process.cpuUsage`), not wall time.
//
// The code is compiled by tsc as for `npm start` (tsx names every closure at run time, CPU the server does
// not spend) into node_modules/.cache/json-ingest-cpu, and measured in fresh processes:
//   npx tsx bench/json-ingest-cpu.ts                this tree
//   npx tsx bench/json-ingest-cpu.ts --base <ref>   <ref> and this tree, both loaded in each of BENCH_PAIRS fresh
//                                                   processes (default 5), their rounds alternating (each side
//                                                   first in every other round); medians, and of each round pair's ratio
// BENCH_REQUESTS requests per round (default 200), BENCH_ROUNDS rounds per side after one warm-up (default 7).
import { execFileSync } from 'node:child_process'
import { mkdirSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { SQL } from 'drizzle-orm'
import { PgDialect } from 'drizzle-orm/pg-core'
import type { Db } from '../src/db/client.js'
import { bucketRows } from './lib/data.js'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const CACHE = join(ROOT, 'node_modules/.cache/json-ingest-cpu')
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 200)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7)
const PAIRS = Number(process.env.BENCH_PAIRS ?? 5)
const TENANT = '00000000-0000-4000-8000-000000000001'

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

/** Compiles `src` of this tree (ref undefined) or of a git ref into the cache; returns the directory of its modules. */
function build(ref: string | undefined): string {
  const name = ref === undefined ? 'tree' : execFileSync('git', ['rev-parse', ref], { cwd: ROOT, encoding: 'utf8' }).trim()
  const dir = join(CACHE, name)
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  let project = join(ROOT, 'tsconfig.build.json')
  if (ref !== undefined) {
    // The ref's sources and compiler settings, under node_modules so that its imports resolve to ours.
    const files = execFileSync('git', ['archive', name, 'src', 'tsconfig.json', 'tsconfig.build.json'], { cwd: ROOT, maxBuffer: 1 << 28 })
    execFileSync('tar', ['-x', '-C', dir], { input: files })
    project = join(dir, 'tsconfig.build.json')
  }
  execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', project, '--outDir', join(dir, 'dist')], { cwd: ROOT, stdio: 'inherit' })
  return join(dir, 'dist')
}

/** One side loaded in this process: `round()` runs REQUESTS requests and returns µs of CPU per request. */
async function side(dist: string): Promise<{ round: () => Promise<number> }> {
  const { ingestJsonBody } = (await import(pathToFileURL(join(dist, 'ingest/ingest-buckets.js')).href)) as typeof import('../src/ingest/ingest-buckets.js')
  const dialect = new PgDialect()
  const db: Db = {
    engine: 'postgres',
    async query<T>(q: SQL | string): Promise<T[]> {
      const text = typeof q === 'string' ? q : dialect.sqlToQuery(q).sql
      if (text.includes('insert into usage_buckets')) return [{ conflict: false, unstored: false, created: 0, replaced: 1000 } as T]
      if (text.includes('pg_advisory_xact_lock')) return [{ shared: true } as T]
      return []
    },
    async transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
      return fn(db)
    },
  }
  const bodies = Array.from({ length: 20 }, (_, i) => JSON.stringify({ buckets: bucketRows(1000, i * 1000) }))
  return {
    async round() {
      const start = process.cpuUsage()
      for (let i = 0; i < REQUESTS; i++) {
        const body: unknown = JSON.parse(bodies[i % bodies.length]!)
        const result = await ingestJsonBody(db, TENANT, body, {})
        if (result.replaced !== 1000) throw new Error(`unexpected result ${JSON.stringify(result)}`)
      }
      const used = process.cpuUsage(start)
      return (used.user + used.system) / REQUESTS
    },
  }
}

/**
 * The given builds in one fresh process, their rounds interleaved (each first in every other round), so that
 * a change in the machine's load between rounds falls on every side alike. After one warm-up round each.
 */
async function interleaved(dists: string[]): Promise<number[][]> {
  const sides = await Promise.all(dists.map(side))
  const rounds: number[][] = sides.map(() => [])
  for (let r = 0; r <= ROUNDS; r++) {
    const order = r % 2 === 0 ? sides.map((_, i) => i) : sides.map((_, i) => i).reverse()
    for (const i of order) {
      const us = await sides[i]!.round()
      if (r > 0) rounds[i]!.push(us)
    }
  }
  return rounds
}

/** The builds in a fresh process (see `interleaved`). */
function runChild(dists: string[]): number[][] {
  const out = execFileSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', ...dists], { cwd: ROOT, encoding: 'utf8' })
  return JSON.parse(out) as number[][]
}

const args = process.argv.slice(2)
const fmt = (us: number) => `${(us / 1000).toFixed(2)} ms`
if (args[0] === '--child') {
  process.stdout.write(JSON.stringify(await interleaved(args.slice(1))))
} else {
  const baseAt = args.indexOf('--base')
  const base = baseAt >= 0 ? args[baseAt + 1] : undefined
  const tree = build(undefined)
  if (base === undefined) {
    const runs = Array.from({ length: 3 }, () => median(runChild([tree])[0]!))
    console.log(`this tree: ${runs.map(fmt).join(' · ')} of CPU per 1,000-row request (median ${fmt(median(runs))})`)
  } else {
    const baseDist = build(base)
    const ratios: number[] = []
    const before: number[] = []
    const after: number[] = []
    for (let p = 0; p < PAIRS; p++) {
      const [b, a] = runChild([baseDist, tree]) as [number[], number[]]
      before.push(...b)
      after.push(...a)
      const pairRatios = a.map((x, i) => x / b[i]!)
      ratios.push(...pairRatios)
      console.log(`process ${p + 1}: ${base} ${b.map(fmt).join(' ')} | this tree ${a.map(fmt).join(' ')} | round ratios ${pairRatios.map((x) => x.toFixed(2)).join(' ')}`)
    }
    const mb = median(before)
    const ma = median(after)
    console.log(
      `median CPU per 1,000-row request over ${before.length} rounds each: ${base} ${fmt(mb)}, this tree ${fmt(ma)}; ` +
        `median of the rounds' ratios ${median(ratios).toFixed(3)} (${ratios.filter((x) => x < 1).length} of ${ratios.length} rounds lower)`,
    )
  }
}
