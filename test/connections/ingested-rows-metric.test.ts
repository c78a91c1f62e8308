import type { FastifyInstance } from 'fastify'
import t from 'tap'
import type { DbClient } from '../../src/db/client.js'
import { eachEngine } from '../helpers.js'
import { ANTHROPIC_KEY, buildWith, createConnection, OPENAI_KEY, startStub, syncAndWait, tenant } from './support/harness.js'

/**
 * `tokenledger_ingested_rows_total` counts the usage rows ingest wrote to the ledger (created, or replaced
 * with other counters), never the rows it was handed. A connection re-pulls its lag window on every run
 * and re-fetches pages after a failed run, and those repeats used to be counted as ingested again: after
 * two runs of the same data the counter claimed twice the rows the ledger held.
 */
const HOUR = 3_600_000

/** The counter's value per outcome for one source, from a scrape of GET /metrics. */
async function scrape(app: FastifyInstance, source: string): Promise<Record<string, number>> {
  const res = await app.inject({ method: 'GET', url: '/metrics' })
  if (res.statusCode !== 200) throw new Error(`metrics: ${res.statusCode}`)
  const out: Record<string, number> = { created: 0, replaced: 0 }
  for (const line of res.body.split('\n')) {
    const m = /^tokenledger_ingested_rows_total\{(.*)\} (\d+)$/.exec(line)
    if (!m || !m[1]!.includes(`source="${source}"`)) continue
    const outcome = /outcome="([^"]*)"/.exec(m[1]!)?.[1] ?? 'none'
    out[outcome] = (out[outcome] ?? 0) + Number(m[2])
  }
  return out
}

/** Buckets and resources the tenant's ledger holds. */
async function ledgerRowCount(db: DbClient, tenantId: string): Promise<number> {
  const [r] = await db.query<{ n: number }>(
    'select (select count(*) from usage_buckets where tenant_id = $1) + (select count(*) from usage_resources where tenant_id = $1) as n',
    [tenantId],
  )
  return Number(r!.n)
}

void t.test('re-pulled and re-fetched pages do not count as ingested rows: the counter equals what the ledger gained', (t) =>
  eachEngine(t, async (t, engine) => {
    // Two buckets a page, so a window takes many pages; lag_hours covers the whole data, so every run re-pulls all of it.
    const stub = await startStub(t, 12, { pageBuckets: 2 })
    const app = await buildWith(t, engine)
    const { tenantId, headers } = await tenant(app)
    const conn = await createConnection(app, headers, {
      name: 'o', provider: 'openai', admin_key: OPENAI_KEY, base_url: stub.url, start_date: new Date(stub.opts.dataStart - 2 * HOUR).toISOString(),
      lag_hours: 48, endpoints: ['completions', 'images'],
    })

    const first = await syncAndWait(app, headers, conn.id)
    t.equal(first.last_run?.status, 'succeeded', `first run (${first.last_run?.error ?? ''})`)
    const stored = await ledgerRowCount(app.testDb, tenantId)
    t.ok(stored > 0, `the ledger holds ${stored} rows`)
    t.same(await scrape(app, 'openai_api'), { created: stored, replaced: 0 }, 'after the first run the counter says the rows the ledger gained')

    // The same window again (the lag), and once more with a 500 on its second page (retried).
    const again = await syncAndWait(app, headers, conn.id)
    t.equal(again.last_run?.status, 'succeeded')
    t.ok(again.last_run!.rows > 0, 'the second run did fetch and store the pages again')
    stub.fault('500', { skip: 1 })
    const retried = await syncAndWait(app, headers, conn.id)
    t.equal(retried.last_run?.status, 'succeeded', `a run with a retried 5xx (${retried.last_run?.error ?? ''})`)
    t.equal(await ledgerRowCount(app.testDb, tenantId), stored, 'the ledger gained nothing')
    t.same(await scrape(app, 'openai_api'), { created: stored, replaced: 0 }, 'and the counter claims nothing more')

    // A provider revision of one bucket: its rows are replaced, counted as such, and the ledger gains none.
    // An hour with usage: the stub leaves every fifth UTC hour empty, and a revision of an empty one (the
    // second hour, one hour in five of the day) replaced nothing.
    let revised = stub.opts.dataStart + HOUR
    while (stub.openaiResults('completions', revised).length === 0) revised += HOUR
    stub.revise('completions', revised, 2)
    t.equal((await syncAndWait(app, headers, conn.id)).last_run?.status, 'succeeded')
    t.equal(await ledgerRowCount(app.testDb, tenantId), stored)
    t.same(await scrape(app, 'openai_api'), { created: stored, replaced: stub.rows }, 'the revised bucket’s rows count as replaced, once')
  }),
)

void t.test('an Anthropic run repeated over the same window counts its rows once', (t) =>
  eachEngine(t, async (t, engine) => {
    const stub = await startStub(t, 8, { pageBuckets: 3 })
    const app = await buildWith(t, engine)
    const { tenantId, headers } = await tenant(app)
    const conn = await createConnection(app, headers, {
      name: 'a', provider: 'anthropic', admin_key: ANTHROPIC_KEY, base_url: stub.url, start_date: new Date(stub.opts.dataStart).toISOString(),
      lag_hours: 48, endpoints: ['usage_report_messages'],
    })
    for (let i = 0; i < 2; i++) t.equal((await syncAndWait(app, headers, conn.id)).last_run?.status, 'succeeded')
    const stored = await ledgerRowCount(app.testDb, tenantId)
    t.ok(stored > 0)
    t.same(await scrape(app, 'anthropic_api'), { created: stored, replaced: 0 }, 'two runs of one window: the rows once')
  }),
)

void t.test('a client re-posting the same buckets is counted once, through POST /v1/usage/buckets', (t) =>
  eachEngine(t, async (t, engine) => {
    const app = await buildWith(t, engine)
    const { tenantId, headers } = await tenant(app)
    const buckets = [
      { start_time: '2026-03-01T00:00:00Z', end_time: '2026-03-01T01:00:00Z', model: 'gpt-4o', input_tokens: 10, output_tokens: 2 },
      { start_time: '2026-03-01T01:00:00Z', end_time: '2026-03-01T02:00:00Z', model: 'gpt-4o', input_tokens: 5, output_tokens: 1 },
    ]
    for (let i = 0; i < 3; i++) t.equal((await app.inject({ method: 'POST', url: '/v1/usage/buckets', headers, payload: { buckets } })).statusCode, 200)
    t.equal(await ledgerRowCount(app.testDb, tenantId), 2)
    t.same(await scrape(app, 'api'), { created: 2, replaced: 0 }, 'three posts of two rows: two rows ingested')
    const changed = [{ ...buckets[0]!, input_tokens: 11 }]
    t.equal((await app.inject({ method: 'POST', url: '/v1/usage/buckets', headers, payload: { buckets: changed } })).statusCode, 200)
    t.same(await scrape(app, 'api'), { created: 2, replaced: 1 }, 'a changed row counts as replaced')
  }),
)
