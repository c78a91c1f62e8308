import t from 'tap'
import { createPostgresDb } from '../../src/db/client.js'
import { loadConfig, responseTimeoutMs } from '../../src/config.js'
import { ensurePostgresTemplate, withDatabase } from '../setup/templates.js'

// The response deadline (src/db/response-deadline.ts) closes a connection that wrote and has heard
// nothing back for longer than the deadline. What it must not close: a statement that answers within
// it, a COPY whose data keeps flowing for longer than it, and a transaction left idle by its caller (an
// export cursor waiting for a slow client). The hung network itself is test/operations/database-outage.
// PGlite has no sockets. The client here has no statement timeout (the server's is below its deadline):
// the COPY below is one statement lasting longer than the deadline.
const base = process.env.TEST_DATABASE_URL
// 3 s, not less: a statement answered 400 ms after it was sent must stay well inside it on a loaded 2-core
// machine (CI), where PostgreSQL's backend, or this process, can be kept off the CPU for a second or more.
const DEADLINE_MS = 3_000
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

t.test('the response deadline closes only connections that wait for an answer', { skip: base ? false : 'needs TEST_DATABASE_URL (PGlite has no sockets)' }, async (t) => {
  const template = await ensurePostgresTemplate(base!)
  const name = `${template.replace(/_tpl_.*/, '')}_deadline_${process.pid}`
  const admin = createPostgresDb({ url: base!, poolSize: 1 })
  await admin.query(`create database "${name}"`)
  const db = createPostgresDb({ url: withDatabase(base!, name), poolSize: 2, responseTimeoutMs: DEADLINE_MS })
  t.teardown(async () => {
    await db.close()
    await admin.query(`drop database if exists "${name}" with (force)`)
    await admin.close()
  })
  const pids = async () => (await db.query<{ pid: number }>('select pg_backend_pid() as pid'))[0]!.pid

  t.test('a statement answered within the deadline', async (t) => {
    t.same(await db.query('select pg_sleep(0.4)::text as slept'), [{ slept: '' }], `answered within ${DEADLINE_MS} ms`)
  })

  t.test('a COPY whose data flows for longer than the deadline', async (t) => {
    await db.query('create table copied (n int4)')
    const copy = await db.copyIn!('copied', ['n'])
    for (let i = 0; i < 10; i++) {
      await copy.write(`${i}\n`)
      await sleep(DEADLINE_MS / 4)
    }
    await copy.end()
    t.same(await db.query('select count(*)::int4 as n from copied'), [{ n: 10 }], `every row arrived, ${(DEADLINE_MS * 2.5) / 1000} s after the first`)
  })

  t.test('a transaction idle in its caller for longer than the deadline', async (t) => {
    const out = await db.transaction(async (tx) => {
      const before = (await tx.query<{ pid: number }>('select pg_backend_pid() as pid'))[0]!.pid
      await sleep(DEADLINE_MS * 2.5)
      const after = (await tx.query<{ pid: number }>('select pg_backend_pid() as pid'))[0]!.pid
      return { before, after }
    })
    t.equal(out.after, out.before, 'the same connection answered after the pause')
  })

  t.test('an answer that arrived while the event loop was held past the deadline', async (t) => {
    // Its own client with a short deadline: the loop is held for ten of them.
    const quick = createPostgresDb({ url: withDatabase(base!, name), poolSize: 1, responseTimeoutMs: 300 })
    t.teardown(() => quick.close())
    await quick.query('select 1')
    const answered = quick.query<{ slept: string }>('select pg_sleep(0.1)::text as slept')
    await sleep(20) // sent
    // Held (a long synchronous task, as an I/O callback or an immediate runs one) while the answer arrives.
    // The next turn of the loop runs its timers before it reads the sockets: the deadline's check found the
    // connection silent for the whole hold and closed it. 3 s, so that PostgreSQL answers pg_sleep(0.1)
    // within the hold even when a loaded machine keeps its backend off the CPU for a second or two.
    await new Promise<void>((resolve) =>
      setImmediate(() => {
        const until = performance.now() + 3_000
        while (performance.now() < until);
        resolve()
      }),
    )
    t.same(await answered, [{ slept: '' }], 'answered, not closed as dead')
  })

  t.test('idle pooled connections are kept', async (t) => {
    const first = new Set(await Promise.all([pids(), pids()]))
    await sleep(DEADLINE_MS * 2.5)
    const later = await Promise.all([pids(), pids()])
    t.ok(later.every((p) => first.has(p)), `the same backends answer (${[...first].join(', ')} → ${later.join(', ')})`)
  })
})

t.test('DB_RESPONSE_TIMEOUT_MS: above STATEMENT_TIMEOUT_MS, off, or derived from it', async (t) => {
  const base = { DATA_DIR: 'memory://' }
  t.equal(responseTimeoutMs(loadConfig(base)), 45_000, 'unset: the statement timeout + 15 s')
  t.equal(responseTimeoutMs(loadConfig({ ...base, STATEMENT_TIMEOUT_MS: '5000' })), 20_000)
  t.equal(responseTimeoutMs(loadConfig({ ...base, DB_RESPONSE_TIMEOUT_MS: '90000' })), 90_000)
  t.equal(responseTimeoutMs(loadConfig({ ...base, DB_RESPONSE_TIMEOUT_MS: 'off' })), undefined, 'off: no deadline')
  // A deadline at or below the statement timeout would close connections only waiting for a slow statement.
  t.throws(() => loadConfig({ ...base, DB_RESPONSE_TIMEOUT_MS: '30000' }), /DB_RESPONSE_TIMEOUT_MS: must be greater than STATEMENT_TIMEOUT_MS/)
  t.throws(() => loadConfig({ ...base, STATEMENT_TIMEOUT_MS: '60000', DB_RESPONSE_TIMEOUT_MS: '45000' }), /DB_RESPONSE_TIMEOUT_MS/)
})
