import t from 'tap'
import { maintainPartitions, type MaintenanceResult } from '../../src/db/partitions.js'
import { eachEngine, freshDb, holdLocks, waitUntilBlocked } from '../helpers.js'

// tokenledger_month_partition looked for the month's rows in the default partition before it took the
// table's lock (which its CREATE TABLE … PARTITION OF takes). A write of that month committing in
// between was not seen: the month was created without moving it, PostgreSQL found the row left in the
// default partition, and the whole maintenance run failed (the next tick fixed it). It now locks first.
const insertRow = `insert into usage_buckets (tenant_id, provider, start_time, end_time, model, service_tier, source, input_tokens, num_model_requests)
  values ('race', 'openai', '2034-05-10T00:00:00Z', '2034-05-10T01:00:00Z', 'gpt-4o', 'default', 'api', 10, 1)`

void t.test('a write of a month committing while maintenance creates that month is moved into it', (t) =>
  eachEngine(t, async (t, engine) => {
    const db = await freshDb(t, engine, 30_000)
    await db.query(`insert into tenants (id, name) values ('race', 'race')`)
    const now = new Date('2034-05-01T00:00:00Z')
    if (engine === 'pglite') {
      // One statement at a time: the write is committed before maintenance starts.
      await db.query(insertRow)
      const r = await maintainPartitions(db, { monthsAhead: 0 }, now)
      t.ok(r.created.includes('usage_buckets_p203405'))
    } else {
      // The writer's transaction is open (its row not yet visible) when maintenance looks at the
      // default partition, and commits while maintenance waits for the table.
      // Maintenance gives up on the table's lock after 1 s (PARTITION_LOCK_TIMEOUT_MS). The writer commits as
      // soon as maintenance is seen waiting for it, but a loaded machine can stall this process past that
      // second: maintenance then fails with lock_not_available and rolls back, and the attempt is made
      // again with the row removed. Only an attempt that waited and then succeeded passes.
      let r: MaintenanceResult | Error | undefined
      for (let attempt = 1; attempt <= 5; attempt++) {
        const write = await holdLocks(t, db, insertRow)
        const maintenance = maintainPartitions(db, { monthsAhead: 0 }, now).then(
          (r) => r,
          (err: unknown) => err as Error,
        )
        await waitUntilBlocked(db, { query: '%tokenledger_month_partition%', pending: maintenance })
        await write.release()
        r = await maintenance
        if (!(r instanceof Error && (r as Error & { code?: string }).code === '55P03')) break
        t.comment(`attempt ${attempt}: the writer committed after maintenance's lock timeout (a loaded machine); again`)
        await db.query(`delete from usage_buckets where tenant_id = 'race'`)
      }
      t.notOk(r instanceof Error, `maintenance succeeded (${r instanceof Error ? r.message : 'ok'})`)
      t.ok(!(r instanceof Error) && r?.created.includes('usage_buckets_p203405'), 'the month was created')
    }
    const rows = await db.query<{ part: string }>(`select tableoid::regclass::text as part from usage_buckets where tenant_id = 'race'`)
    t.same([...rows], [{ part: 'usage_buckets_p203405' }], 'the row is in its month, none left in the default partition')
  }),
)
