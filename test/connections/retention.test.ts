import t from 'tap'
import { retentionCutoff } from '../../src/db/partitions.js'
import { clearOfMonthTurn } from '../factories/turns.js'
import { eachEngine } from '../helpers.js'
import { buildWith, createConnection, OPENAI_KEY, startStub, syncAndWait, tenant } from './support/harness.js'

const HOUR = 3_600_000

// With RETENTION_MONTHS set, rows before the cutoff are refused on every write path (their raw
// partitions are dropped while the rollups keep them). A connection whose start_date lies before the
// cutoff must therefore pull from the cutoff on — not fail every run on the refused rows.
void t.test('a connection starting before the retention cutoff pulls from the cutoff and succeeds', (t) =>
  eachEngine(t, async (t, engine) => {
    // The run reads the server's own clock for its cutoff: this engine's part (6 s here) runs in `now`'s
    // month, or a month turning meanwhile moved the run's cutoff past `cutoff` (and the run failed).
    const now = await clearOfMonthTurn(60_000)
    const cutoff = retentionCutoff(1, now)!.getTime()
    const hours = Math.ceil((now.getTime() - cutoff) / HOUR) + 24
    const stub = await startStub(t, hours, { rowsPerBucket: 1, pageBuckets: 168 })
    t.ok(stub.opts.dataStart < cutoff, 'the provider reports usage from before the cutoff')
    const app = await buildWith(t, engine, { config: { RETENTION_MONTHS: '1' } })
    const { tenantId, headers } = await tenant(app)
    const conn = await createConnection(app, headers, {
      name: 'old org',
      provider: 'openai',
      admin_key: OPENAI_KEY,
      base_url: stub.url,
      start_date: new Date(stub.opts.dataStart).toISOString(),
      endpoints: ['completions'],
    })
    const state = await syncAndWait(app, headers, conn.id)
    t.equal(state.last_run?.status, 'succeeded', `the run succeeded (${state.last_run?.error ?? ''})`)
    const starts = stub.requests.filter((r) => r.path.endsWith('/completions')).map((r) => Number(r.query.start_time) * 1000)
    t.equal(Math.min(...starts), cutoff, 'the first page asked for starts at the cutoff')
    const [row] = await app.testDb.query<{ before: number; after: number }>(
      `select count(*) filter (where start_time < $2)::int as before, count(*) filter (where start_time >= $2)::int as after
         from usage_buckets where tenant_id = $1`,
      [tenantId, new Date(cutoff).toISOString()],
    )
    t.equal(row?.before, 0, 'nothing before the cutoff stored')
    t.ok((row?.after ?? 0) > 0, 'usage from the cutoff on stored')
  }),
)
