import t from 'tap'
import { freshDb, holdLocks, waitFor } from '../helpers.js'
import { buildWith, createConnection, getState, OPENAI_KEY, startStub, tenant, waitForRun } from './support/harness.js'

// finishRun's statement (src/connections/connection-store.ts): the run recording its end.
const FINISH_RUN = 'next_run_at = clock_timestamp() + make_interval(mins => interval_minutes)'

// A run whose end the database failed to record (the database unreachable, or a lock held past the
// statement timeout — often the very failure that ended the run) left the connection `running`, its
// lease held: every sync was refused with 409 until the lease lapsed (SYNC_LEASE_MS, 5 min by default),
// with nothing running. The outcome is now recorded again once the database answers. Here a lock on
// `connections` held by another session makes the run's progress and its end time out; PGlite runs one
// statement at a time, so nothing can hold such a lock there.
t.test('a run whose end the database failed to record is recorded once the database answers', { skip: !process.env.TEST_DATABASE_URL && 'needs TEST_DATABASE_URL (PGlite cannot fail a statement on a lock)' }, async (t) => {
  const stub = await startStub(t, 2)
  const db = await freshDb(t, 'postgres', 300)
  const app = await buildWith(t, 'postgres', { db })
  const { headers } = await tenant(app)
  const conn = await createConnection(app, headers, { name: 'o', provider: 'openai', admin_key: OPENAI_KEY, base_url: stub.url, start_date: new Date(stub.opts.dataStart).toISOString(), endpoints: ['completions'] })

  // The provider answers the first page only once the lock is taken, so every later write of the run meets it.
  const answer = stub.hold()
  const started = await app.inject({ method: 'POST', url: `/v1/connections/${conn.id}/sync`, headers })
  t.equal(started.statusCode, 202, 'the run starts')
  const lock = await holdLocks(t, db, 'lock table connections in access exclusive mode')
  answer()
  // The page arrives, is stored, and recording its progress times out (300 ms); the lock is held until
  // the run has tried to record its end (which cannot succeed behind the lock), however late the page
  // arrives on a loaded machine: a fixed 2.5 s could end first, and the run then simply succeeded.
  // The poll shares the pool's 300 ms statement timeout: on a loaded machine (load 16) the poll itself
  // timed out and failed the test. A poll cut by the timeout (57014) is simply "not yet".
  await waitFor('the run to try to record its end behind the lock', async () =>
    (await db.query('select 1 from pg_stat_activity where datname = current_database() and query like $1 and pid <> pg_backend_pid()', [`%${FINISH_RUN}%`])
      .catch((err: unknown) => { if ((err as { code?: string }).code === '57014') return []; throw err })).length > 0,
  )
  await lock.release()

  const state = await waitForRun(app, headers, conn.id)
  t.equal(state.last_run?.status, 'failed', 'the run is recorded as ended, not left running')
  t.match(state.last_run?.error, /^database: unavailable or too slow/, `naming what ended it (${state.last_run?.error ?? ''})`)
  t.notOk(JSON.stringify(state).includes(OPENAI_KEY), 'without the admin key')
  const again = await app.inject({ method: 'POST', url: `/v1/connections/${conn.id}/sync`, headers })
  t.equal(again.statusCode, 202, 'the lease is free: the next sync starts')
  const next = await waitForRun(app, headers, conn.id)
  t.equal(next.last_run?.status, 'succeeded', `and completes (${next.last_run?.error ?? ''})`)
  t.ok((await getState(app, headers, conn.id)).synced_until.completions, 'synced_until moved')
})
