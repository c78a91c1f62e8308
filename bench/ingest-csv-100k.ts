// Measures CSV bucket ingestion end to end: a generated export-shaped CSV (BENCH_ROWS, default 100k)
// is POSTed over real HTTP with a streamed body to the app running in this process, on PGlite and on
// PostgreSQL (BENCH_DATABASE_URL; a database is created and dropped). Each engine runs in its own
// child process so that its peak RSS is its own.
//   npx tsx bench/ingest-csv-100k.ts            # both engines (PostgreSQL only if BENCH_DATABASE_URL)
//   npx tsx bench/ingest-csv-100k.ts pglite     # one engine
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { finished } from 'node:stream/promises'
import { fileURLToPath } from 'node:url'
import Fastify from 'fastify'
import app from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { createPostgresDb } from '../src/db/client.js'

const ROWS = Number(process.env.BENCH_ROWS ?? 100_000)
const ADMIN = 'bench-admin-token-0123456789abcdef'
const HEADER =
  'start_time,end_time,start_time_iso,end_time_iso,project_id,num_model_requests,user_id,api_key_id,model,batch,service_tier,' +
  'input_tokens,output_tokens,input_cached_tokens,input_uncached_tokens,input_text_tokens,output_text_tokens,' +
  'input_cached_text_tokens,input_audio_tokens,input_cached_audio_tokens,output_audio_tokens,input_image_tokens,' +
  'input_cached_image_tokens,output_image_tokens'
const MODELS = ['gpt-4o-2024-08-06', 'gpt-4o-mini-2024-07-18', 'gpt-5-2025-08-07', 'gpt-5-mini-2025-08-07', 'o3-2025-04-16', 'gpt-4.1-2025-04-14', 'gpt-4.1-mini-2025-04-14', 'o4-mini-2025-04-16']

/** Rows in the dashboard export's columns: 30 daily buckets × projects × models × keys; every 50th row repeats a key (summed). */
async function generateCsv(path: string): Promise<number> {
  const out = createWriteStream(path)
  out.write(`${HEADER}\n`)
  const day0 = 1759276800 // 2025-10-01
  for (let i = 0; i < ROWS; i++) {
    const k = i % 50 === 49 ? i - 1 : i
    const day = k % 30
    const rest = Math.floor(k / 30)
    const start = day0 + day * 86400
    const iso = (s: number) => new Date(s * 1000).toISOString().replace('.000Z', '+00:00')
    const cached = (i * 7) % 5000
    const uncached = 1000 + ((i * 13) % 90000)
    const output = 100 + ((i * 17) % 40000)
    const line = [
      start, start + 86400, iso(start), iso(start + 86400), `proj_${rest % 500}`, `${1 + (i % 40)}.0`, `user-${rest % 37}`,
      `key_${Math.floor(rest / 4000)}`, MODELS[Math.floor(rest / 500) % MODELS.length], 'FALSE', 'default',
      `${cached + uncached}.0`, `${output}.0`, `${cached}.0`, `${uncached}.0`, `${uncached}.0`, `${output}.0`, `${cached}.0`,
      '0.0', '0.0', '0.0', '0.0', '0.0', '0.0',
    ].join(',')
    if (!out.write(`${line}\n`)) await new Promise<void>((r) => out.once("drain", () => r()))
  }
  out.end()
  await finished(out)
  return (await stat(path)).size
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`

async function runEngine(engine: 'pglite' | 'postgres'): Promise<void> {
  const csvPath = join(tmpdir(), `tokenledger-bench-${process.pid}.csv`)
  const size = await generateCsv(csvPath)
  let dropDb: (() => Promise<void>) | undefined
  const env: Record<string, string> = { LOG_LEVEL: 'silent', TOKENLEDGER_ADMIN_TOKEN: ADMIN, DATA_DIR: 'memory://' }
  if (engine === 'postgres') {
    const base = process.env.BENCH_DATABASE_URL!
    const name = `tokenledger_bench_${randomBytes(4).toString('hex')}`
    const adminDb = createPostgresDb({ url: base, poolSize: 1 })
    await adminDb.query(`create database "${name}"`)
    const url = new URL(base)
    url.pathname = `/${name}`
    env.DATABASE_URL = url.toString()
    dropDb = async () => {
      await adminDb.query(`drop database if exists "${name}" with (force)`)
      await adminDb.close()
    }
  }
  const config = loadConfig(env)
  // A fresh PGlite runs initdb in WASM, which can take longer than Fastify's default 10 s plugin timeout.
  const server = Fastify({ logger: false, bodyLimit: config.BODY_LIMIT, pluginTimeout: 120_000 })
  try {
    await server.register(app, { config })
    await server.listen({ port: 0, host: '127.0.0.1' })
    const address = server.server.address()
    const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`
    const call = async (method: string, path: string, body: unknown, auth: string) => {
      const res = await fetch(base + path, { method, headers: { authorization: `Bearer ${auth}`, 'content-type': 'application/json' }, body: JSON.stringify(body) })
      if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`)
      return res.json() as Promise<Record<string, unknown>>
    }
    await call('POST', '/v1/tenants', { id: 'bench', name: 'Bench' }, ADMIN)
    const { key } = (await call('POST', '/v1/tenants/bench/api-keys', { name: 'bench', scopes: ['ingest'] }, ADMIN)) as { key: string }
    global.gc?.()
    const baseline = process.memoryUsage().rss
    const post = async () => {
      const t0 = performance.now()
      const res = await fetch(`${base}/v1/usage/buckets`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'text/csv' },
        body: Readable.toWeb(createReadStream(csvPath)) as ReadableStream,
        duplex: 'half',
      } as RequestInit)
      const body = await res.text()
      const seconds = (performance.now() - t0) / 1000
      if (!res.ok) throw new Error(`ingest: ${res.status} ${body.slice(0, 500)}`)
      return { seconds, body }
    }
    // Sampled while posting: V8 heap in use (what would grow if rows were collected in memory).
    let peakHeap = 0
    const sampler = setInterval(() => {
      peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed)
    }, 20)
    const first = await post()
    const second = await post()
    clearInterval(sampler)
    const peak = process.resourceUsage().maxRSS * 1024
    console.log(
      `${engine.padEnd(8)} rows=${ROWS} csv=${mb(size)}  first: ${first.seconds.toFixed(2)} s ${first.body}\n` +
        `${' '.repeat(9)}re-post: ${second.seconds.toFixed(2)} s ${second.body}\n` +
        `${' '.repeat(9)}RSS after startup ${mb(baseline)}, process peak RSS ${mb(peak)} (growth ${mb(peak - baseline)}), peak V8 heap used ${mb(peakHeap)}`,
    )
  } finally {
    await server.close()
    await dropDb?.()
    await rm(csvPath, { force: true })
  }
}

const engine = process.argv[2]
if (engine === 'pglite' || engine === 'postgres') {
  await runEngine(engine)
} else {
  const engines = ['pglite', ...(process.env.BENCH_DATABASE_URL ? ['postgres'] : [])]
  if (!process.env.BENCH_DATABASE_URL) console.log('BENCH_DATABASE_URL unset: PostgreSQL skipped')
  for (const e of engines) {
    const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), e], { stdio: 'inherit' })
    if (r.status !== 0) process.exitCode = 1
  }
}
