import t from 'tap'
import type { DbClient } from '../../src/db/client.js'
import { eachEngine, freshDb } from '../helpers.js'
import { buildWith, createConnection, OPENAI_KEY, startStub, tenant } from './support/harness.js'

// finishRun's statement (releaseDeadLeases also sets lease_owner = null, but schedules no next run).
const FINISH_RUN = 'next_run_at = clock_timestamp() + make_interval(mins => interval_minutes)'
const PROGRESS = "last_run = last_run || jsonb_build_object('pages'"

/**
 * Shutdown waits for this instance's runs, so that each records its end and releases its lease while
 * the database is still there. A run of a connection starting just as the previous run of the same
 * connection ends (a POST …/sync whose claim waited on the row lock of that run's last statement) was
 * dropped from the runner's registry by the ended run's cleanup, which removed whatever run was listed
 * under the connection: shutdown did not wait for it, and the connection was left `running`, its lease
 * held, answering 409 to every sync until the lease lapsed.
 */
void t.test('a run that starts as the previous run of its connection ends is waited for at shutdown', (t) =>
  eachEngine(t, async (t, engine) => {
    const stub = await startStub(t, 30)
    const real = await freshDb(t, engine)
    // The real database, with two moments held: right after a run's end is recorded the next run is
    // started (as that waiting claim would be), and that run's first progress is held for a second, so
    // it is still going when the server shuts down.
    let onFinish: (() => Promise<void>) | undefined
    let holdProgress = false
    let progressHeld!: () => void
    const held = new Promise<void>((resolve) => (progressHeld = resolve))
    const db: DbClient = {
      engine: real.engine,
      async query<T>(q: Parameters<DbClient['query']>[0], params?: unknown[], opts?: Parameters<DbClient['query']>[2]): Promise<T[]> {
        if (typeof q === 'string' && q.includes(PROGRESS) && holdProgress) {
          holdProgress = false
          progressHeld()
          await new Promise((r) => setTimeout(r, 1000))
        }
        const rows = await real.query<T>(q, params, opts)
        if (typeof q === 'string' && q.includes(FINISH_RUN) && onFinish) {
          const hook = onFinish
          onFinish = undefined
          await hook()
        }
        return rows
      },
      transaction: (fn) => real.transaction(fn),
      ...(real.copyIn ? { copyIn: real.copyIn.bind(real) } : {}),
      close: () => Promise.resolve(),
      dedicated: (fn) => real.dedicated(fn),
    }
    const app = await buildWith(t, engine, { db })
    const { headers } = await tenant(app)
    const conn = await createConnection(app, headers, { name: 'o', provider: 'openai', admin_key: OPENAI_KEY, base_url: stub.url, start_date: new Date(stub.opts.dataStart).toISOString(), endpoints: ['completions'] })
    let second = 0
    onFinish = async () => {
      holdProgress = true
      second = (await app.inject({ method: 'POST', url: `/v1/connections/${conn.id}/sync`, headers })).statusCode
    }
    t.equal((await app.inject({ method: 'POST', url: `/v1/connections/${conn.id}/sync`, headers })).statusCode, 202)
    await held
    t.equal(second, 202, 'the second run started as the first ended')
    await app.close()
    const [row] = await real.query<{ status: string; lease_owner: string | null }>(
      `select last_run ->> 'status' as status, lease_owner from connections where id = $1`,
      [conn.id],
    )
    t.not(row?.status, 'running', 'shutdown waited for the second run to record its end')
    t.equal(row?.lease_owner, null, 'and its lease is released')
  }),
)
