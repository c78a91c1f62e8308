import t from 'tap'
import type { DbClient } from '../../src/db/client.js'
import { eachEngine, freshDb } from '../helpers.js'

// A request passes its client's disconnect signal to its statements. When the client had already left
// before a statement was sent, postgres.js (3.4.9) skipped the cancelled statement but kept its
// connection marked busy for ever: each such request lost a pooled connection (the pool then hung), and
// inside a transaction (a CSV export's next cursor) the transaction never ended, its connection "idle in
// transaction". PGlite ignores the signal; there the statements simply run.

/** The promise's outcome, or a failure when it has not settled within `ms` (a hang must not hang the test). */
async function within<T>(ms: number, p: Promise<T>): Promise<{ value?: T; code?: unknown; hung?: true }> {
  let timer: NodeJS.Timeout | undefined
  const hung = new Promise<{ hung: true }>((resolve) => (timer = setTimeout(() => resolve({ hung: true }), ms)))
  try {
    return await Promise.race([p.then((value) => ({ value }), (err: unknown) => ({ code: (err as { code?: unknown }).code })), hung])
  } finally {
    clearTimeout(timer)
  }
}

void eachEngine(t, async (t, engine) => {
  let db: DbClient
  t.before(async () => {
    db = await freshDb(t, engine)
  })
  const aborted = () => {
    const c = new AbortController()
    c.abort()
    return c.signal
  }
  const expected = engine === 'postgres' ? { code: '57014' } : { value: [{ n: 1 }] }

  t.test('statements whose signal was aborted before they were sent cost no connection', async (t) => {
    // More than the pool's connections (4 in tests): each one used to keep one for ever.
    for (let i = 0; i < 8; i++) t.same(await within(5_000, db.query('select 1 as n', [], { signal: aborted() })), expected, `statement ${i + 1}`)
    t.same(await within(5_000, db.query('select 42 as n')), { value: [{ n: 42 }] }, 'the database still answers')
  })

  t.test('a transaction whose statement was cancelled before it was sent still ends', async (t) => {
    for (let i = 0; i < 6; i++) {
      const tx = db.transaction(async (tx) => {
        await tx.query('select 0')
        return tx.query('select 1 as n', [], { signal: aborted() })
      })
      t.same(await within(5_000, tx), expected, `transaction ${i + 1}`)
    }
    t.same(await within(5_000, db.query('select 42 as n')), { value: [{ n: 42 }] }, 'the database still answers')
  })
})
