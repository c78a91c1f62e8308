import t from 'tap'
import { maintainPartitions } from '../../src/db/partitions.js'
import { eachEngine, freshDb, holdLocks, waitUntilBlocked } from '../helpers.js'

// Creating a month partition (and dropping one for retention) needs an ACCESS EXCLUSIVE lock on the
// partitioned table. While a long transaction reads or writes it (a CSV import, an export read by a
// slow client), that request waits — and every later statement on the table, reads included, queues
// behind it. Maintenance must give up quickly rather than hold every tenant's ingest and reads.
void t.test('partition maintenance waiting for a long transaction does not stall reads and writes of usage', (t) =>
  eachEngine(t, async (t, engine) => {
    const db = await freshDb(t, engine, 30_000)
    const tenant = 'lockq'
    await db.query('insert into tenants (id, name) values ($1, $1)', [tenant])
    if (engine === 'pglite') {
      // One statement at a time: nothing can wait on a lock (the lock timeout is accepted and unused).
      const r = await maintainPartitions(db, { monthsAhead: 0 }, new Date('2033-03-10T00:00:00Z'))
      t.ok(r.created.includes('usage_buckets_p203303'))
      return
    }
    // A long transaction holding the weakest lock on usage_buckets (as an open export cursor does).
    const long = await holdLocks(t, db, 'select count(*) from usage_buckets')

    const maintenance = maintainPartitions(db, { monthsAhead: 0 }, new Date('2033-03-10T00:00:00Z')).then(
      (r) => r,
      (err: unknown) => err as Error,
    )
    // Maintenance waits for the table's lock (seen, not slept for: on a loaded machine it can take seconds
    // to get there, and a read and write served before it asked would prove nothing).
    await waitUntilBlocked(db, { query: '%tokenledger_month_partition%', pending: maintenance })
    const started = Date.now()
    const read = db.query(`select count(*)::int8 as n from usage_buckets where tenant_id = $1`, [tenant])
    const write = db.query(
      `insert into usage_buckets (tenant_id, provider, start_time, end_time, model, service_tier, source, input_tokens, num_model_requests)
       values ($1, 'openai', '2033-03-01T00:00:00Z', '2033-03-01T01:00:00Z', 'gpt-4o', 'default', 'api', 10, 1)`,
      [tenant],
    )
    // They queue behind maintenance's request until its 1 s lock timeout; without one they would wait for the
    // long transaction, which is held until they are served — or until the 30 s statement timeout. 20 s
    // tells the two apart with room for a loaded machine.
    let timer: NodeJS.Timeout | undefined
    const settled = await Promise.race([
      Promise.allSettled([read, write]).then(() => 'served'),
      new Promise((r) => (timer = setTimeout(() => r('stalled'), 20_000))),
    ])
    clearTimeout(timer) // or it keeps the process (and the file's run) alive for its 20 s
    t.equal(settled, 'served', `a read and a write of usage_buckets are served while maintenance waits (${Date.now() - started} ms)`)
    await long.release()
    await Promise.allSettled([read, write])
    const outcome = await maintenance
    t.match(outcome, { code: '55P03' }, 'maintenance gave up on the lock (lock_not_available; the next tick tries again)')
    // Nothing was lost: a later run creates the month, with the row written meanwhile moved into it.
    const again = await maintainPartitions(db, { monthsAhead: 0 }, new Date('2033-03-10T00:00:00Z'))
    t.ok(again.created.includes('usage_buckets_p203303'), 'created once nothing holds the table')
    const [n] = await db.query<{ n: number }>(`select count(*)::int8 as n from usage_buckets_p203303 where tenant_id = $1`, [tenant])
    t.equal(n!.n, 1, 'the row written meanwhile is in its month')
  }),
)
