// The load generator for the concurrent-request rows: autocannon in its own node process, so load
// generation never shares the harness's (or a server's) event loop. Each request's body is one of
// `templates` with `[<id>]` replaced by an id unique to the run, so events are never deduplicated.
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { ROOT } from './processes.js'

// Plain CommonJS run by `node -e`, so no TypeScript loader is needed in the load process.
const LOAD = `
const w = JSON.parse(process.argv[1])
const autocannon = require('autocannon')
let n = 0
const prefix = 'ac-' + process.pid + '-' + Date.now() + '-'
autocannon({ url: w.url, method: 'POST', headers: w.headers, connections: w.connections, duration: w.duration,
  requests: [{ setupRequest: (req) => ({ ...req,
    body: w.templates[n % w.templates.length].replace('[<id>]', prefix + n++) }) }] })
  .then((r) => process.stdout.write(JSON.stringify({ ok: r['2xx'], non2xx: r.non2xx, errors: r.errors,
    timeouts: r.timeouts, seconds: r.duration, p50: r.latency.p50, p99: r.latency.p99 })))
`

export interface LoadResult {
  ok: number
  non2xx: number
  errors: number
  timeouts: number
  seconds: number
  p50: number
  p99: number
  /** 2xx responses per second. */
  rate: number
}

export async function runLoad(opts: {
  url: string
  headers: Record<string, string>
  connections: number
  duration: number
  templates: string[]
}): Promise<LoadResult> {
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', LOAD, JSON.stringify(opts)], {
    cwd: ROOT,
    maxBuffer: 1 << 20,
  })
  const r = JSON.parse(stdout) as Omit<LoadResult, 'rate'>
  return { ...r, rate: r.ok / r.seconds }
}
