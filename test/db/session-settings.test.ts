import t from 'tap'
import { freshDb } from '../helpers.js'

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
