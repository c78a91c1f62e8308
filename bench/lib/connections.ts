// Issue #12's benchmark row: a connection's backfill (the server pulls hourly OpenAI usage from a stub
// provider, page by page) against POSTing the same pages to /v1/usage/buckets directly, on one server
// process, with the server's RSS sampled through both phases. Used by bench/run.ts (row 10) and by
// bench/connections-backfill.ts on its own.
import type { Engine } from '../../src/db/client.js'
import { openai } from '../../src/connections/openai.js'
import { StubProvider } from '../../test/connections/support/stub-provider.js'
import type { Metric } from './metrics.js'
import { memoryOf } from './processes.js'

const KEY = 'sk-admin-bench-0123456789abcdefwxyz'
const HOUR = 3_600_000

export interface BackfillResult {
  rows: number
  pages: number
  directRate: number
  pullRate: number
  rss: { directBefore: number; directPeak: number; pullBefore: number; pullPeak: number }
}

export async function benchBackfill(opts: { url: string; pid: number; adminToken: string; hours: number; rowsPerBucket: number }): Promise<BackfillResult> {
  const { url } = opts
  const dataEnd = Math.floor(Date.now() / HOUR) * HOUR - 2 * HOUR
  // Pages of the provider's full size (168 hourly buckets), as the real API serves them.
  const stub = await new StubProvider({ openaiKey: KEY, anthropicKey: 'unused', dataStart: dataEnd - opts.hours * HOUR, dataEnd, rowsPerBucket: opts.rowsPerBucket, pageBuckets: 168 }).start()
  try {
    const adminHeaders = { authorization: `Bearer ${opts.adminToken}`, 'content-type': 'application/json' }
    const suffix = Date.now().toString(36)
    const tenant = async (name: string) => {
      const id = `${name}-${suffix}`
      await fetch(`${url}/v1/tenants`, { method: 'POST', headers: adminHeaders, body: JSON.stringify({ id, name: id }) })
      const res = await fetch(`${url}/v1/tenants/${id}/api-keys`, { method: 'POST', headers: adminHeaders, body: JSON.stringify({ name: 'bench', scopes: ['ingest', 'read'] }) })
      return ((await res.json()) as { key: string }).key
    }
    const sampler = () => {
      const rss: number[] = []
      const timer = setInterval(() => void memoryOf(opts.pid).then((m) => rss.push(m.rssMb), () => {}), 50)
      return {
        stop: () => {
          clearInterval(timer)
          return rss.length ? Math.max(...rss) : NaN
        },
      }
    }
    const spec = openai.endpoints.find((e) => e.name === 'completions')!
    const window = { startMs: stub.opts.dataStart, endMs: Math.ceil(Date.now() / HOUR) * HOUR, width: '1h' as const }

    // Direct: the same pages, fetched first (outside the clock), POSTed one by one with the same declared shape.
    const pages: string[] = []
    for (let cursor: string | undefined; ;) {
      const text = await (await fetch(openai.pageUrl(stub.url, spec, window, cursor), { headers: openai.authHeaders(KEY) })).text()
      pages.push(text)
      const page = JSON.parse(text) as { has_more: boolean; next_page: string | null }
      if (!page.has_more) break
      cursor = page.next_page!
    }
    const direct = { authorization: `Bearer ${await tenant('conn-direct')}`, 'content-type': 'application/json' }
    const query = `provider=openai&account_id=org-bench&${spec.groupBy.map((g) => `group_by=${g}`).join('&')}`
    const directBefore = (await memoryOf(opts.pid)).rssMb
    const s1 = sampler()
    let rows = 0
    const t1 = performance.now()
    for (const body of pages) {
      const res = await fetch(`${url}/v1/usage/buckets?${query}`, { method: 'POST', headers: direct, body })
      if (res.status !== 200) throw new Error(`direct: ${res.status} ${await res.text()}`)
      rows += ((await res.json()) as { received: number }).received
    }
    const directSec = (performance.now() - t1) / 1000
    const directPeak = s1.stop()

    // The connection: POST …/sync, then poll until the run has finished.
    const pulled = { authorization: `Bearer ${await tenant('conn-pulled')}` }
    const created = await fetch(`${url}/v1/connections`, {
      method: 'POST',
      headers: { ...pulled, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'bench', provider: 'openai', admin_key: KEY, account_id: 'org-bench', base_url: stub.url, start_date: new Date(stub.opts.dataStart).toISOString(), endpoints: ['completions'] }),
    })
    if (created.status !== 201) throw new Error(`connection: ${created.status} ${await created.text()}`)
    const { id } = (await created.json()) as { id: string }
    const pullBefore = (await memoryOf(opts.pid)).rssMb
    const s2 = sampler()
    const t2 = performance.now()
    const started = await fetch(`${url}/v1/connections/${id}/sync`, { method: 'POST', headers: pulled })
    if (started.status !== 202) throw new Error(`sync: ${started.status} ${await started.text()}`)
    let run: { status: string; rows: number; pages: number; error: string | null }
    for (;;) {
      await new Promise((r) => setTimeout(r, 25))
      run = ((await (await fetch(`${url}/v1/connections/${id}`, { headers: pulled })).json()) as { last_run: typeof run }).last_run
      if (run.status !== 'running') break
    }
    const pullSec = (performance.now() - t2) / 1000
    const pullPeak = s2.stop()
    if (run.status !== 'succeeded' || run.rows !== rows) throw new Error(`backfill: ${JSON.stringify(run)} (direct stored ${rows})`)
    return { rows, pages: run.pages, directRate: rows / directSec, pullRate: rows / pullSec, rss: { directBefore, directPeak, pullBefore, pullPeak } }
  } finally {
    await stub.close()
  }
}

/** Row 10 of the benchmark table. */
export function backfillMetric(engine: Engine, hours: number, r: BackfillResult): Metric {
  const ratio = r.pullRate / r.directRate
  return {
    row: 10,
    engine,
    name: `connection backfill of ${hours / 24} days of hourly usage from a stub provider (${r.rows.toLocaleString('en-US')} rows, ${r.pages} pages)`,
    value: r.pullRate,
    unit: 'rows/s',
    baseline: r.directRate,
    baselineName: 'POSTing the same pages to /v1/usage/buckets',
    ratio,
    target: '≥ 0.8×, flat memory',
    met: ratio >= 0.8,
    details: { rssGrowthMb: Math.round(r.rss.pullPeak - r.rss.pullBefore), rssPeakMb: Math.round(r.rss.pullPeak), directRssGrowthMb: Math.round(r.rss.directPeak - r.rss.directBefore) },
  }
}
