import t from 'tap'
import { freshDb, otherSession } from '../helpers.js'

// A usage statement carries a base-table branch that a one-time filter skips when the hourly rollup
// answers; planned for a million rows, it made PostgreSQL spend ~6 s in JIT compilation on a query
// that runs in ~90 ms. Every connection of the PostgreSQL client therefore runs with JIT off.
t.test('postgres connections run with jit off', { skip: !process.env.TEST_DATABASE_URL && 'TEST_DATABASE_URL is not set' }, async (t) => {
  const db = await freshDb(t, 'postgres')
  const rows = await db.query<{ jit: string }>('show jit')
  t.equal(rows[0]!.jit, 'off')
  const inTx = await db.transaction((tx) => tx.query<{ jit: string }>('show jit'))
  t.equal(inTx[0]!.jit, 'off', 'inside transactions too')
})

// Other clients (psql, the bench's raw baselines) may keep JIT on: a 1,000-row upsert then spent
// ~0.9 s compiling each rollup trigger's statement. The trigger functions set it off themselves.
t.test('the rollup triggers run with jit off whatever the client sets', { skip: !process.env.TEST_DATABASE_URL && 'TEST_DATABASE_URL is not set' }, async (t) => {
  const db = await freshDb(t, 'postgres')
  const rows = await db.query<{ proname: string; proconfig: string[] | null }>(
    `select proname, proconfig from pg_proc where proname in ('usage_bucket_hourly_maintain', 'usage_bucket_daily_maintain') order by proname`,
  )
  t.same(rows, [
    { proname: 'usage_bucket_daily_maintain', proconfig: ['jit=off'] },
    { proname: 'usage_bucket_hourly_maintain', proconfig: ['jit=off'] },
  ])
})

// postgres.js reads timestamptz text as ISO. A database (or server) set to another DateStyle — 'SQL, DMY',
// 'German', 'Postgres' — printed '01/02/2025 05:30:00 IST' and every timestamp the server read was an
// Invalid Date. The client's connections now start with DateStyle ISO, whatever the database sets.
t.test('postgres connections read timestamps whatever DateStyle the database sets', { skip: !process.env.TEST_DATABASE_URL && 'TEST_DATABASE_URL is not set' }, async (t) => {
  const db = await freshDb(t, 'postgres')
  const [name] = await db.query<{ d: string }>('select current_database() as d')
  await db.query(`alter database "${name!.d}" set datestyle = 'SQL, DMY'`)
  await db.query(`alter database "${name!.d}" set timezone = 'Asia/Kolkata'`)
  const fresh = await otherSession(t, db)
  const [row] = await fresh.query<{ at: Date }>(`select '2025-02-01T00:00:00Z'::timestamptz as at`)
  t.equal(row!.at.getTime(), Date.parse('2025-02-01T00:00:00Z'))
})
