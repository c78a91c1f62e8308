import t from 'tap'
import type { Db } from '../../src/db/client.js'
import { maintainPartitions } from '../../src/db/partitions.js'
import { eachEngine, freshDb, otherSession } from '../helpers.js'

// tokenledger_month_partition wrote a month's bounds into CREATE TABLE … FOR VALUES FROM (%L) TO (%L) as
// text in the session's DateStyle and TimeZone. A database set to DateStyle 'SQL, DMY' (or German,
// Postgres) and Asia/Kolkata printed '01/02/2035 05:30:00 IST', which PostgreSQL reads back as Israel
// time (+02): the month partitions started 3 h 30 min late, rows of the first hours of a month landed in
// the previous one (and went with it at retention). The function now runs in UTC and ISO.
const insertAt = (db: Db, tenant: string, start: string) =>
  db.query(
    `insert into usage_buckets (tenant_id, provider, start_time, end_time, model, service_tier, source, input_tokens, num_model_requests)
     values ($1, 'openai', $2, $2::timestamptz + interval '1 minute', 'gpt-4o', 'default', 'api', 1, 1)`,
    [tenant, start],
  )

void t.test('month partitions start at UTC midnight of the 1st whatever the session DateStyle and TimeZone', (t) =>
  eachEngine(t, async (t, engine) => {
    const base = await freshDb(t, engine)
    let db: Db = base
    if (engine === 'pglite') {
      await base.query(`set timezone = 'Asia/Kolkata'`)
      await base.query(`set datestyle = 'SQL, DMY'`)
    } else {
      const [name] = await base.query<{ d: string }>('select current_database() as d')
      await base.query(`alter database "${name!.d}" set timezone = 'Asia/Kolkata'`)
      await base.query(`alter database "${name!.d}" set datestyle = 'SQL, DMY'`)
      db = await otherSession(t, base)
      const [ds] = await db.query<{ d: string }>("select current_setting('datestyle') as d")
      t.equal(ds!.d, 'SQL, DMY', 'a new session has the database settings')
    }
    await db.query(`insert into tenants (id, name) values ('bounds', 'bounds')`)
    for (const month of ['2035-01-10T00:00:00Z', '2035-02-10T00:00:00Z']) await maintainPartitions(db, { monthsAhead: 0 }, new Date(month))
    await insertAt(db, 'bounds', '2035-01-31T23:59:00Z')
    await insertAt(db, 'bounds', '2035-02-01T00:00:00Z')
    await insertAt(db, 'bounds', '2035-02-01T03:00:00Z')
    const rows = await db.query<{ at: string; part: string }>(
      `select to_char(start_time at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI') as at, tableoid::regclass::text as part
       from usage_buckets where tenant_id = 'bounds' order by start_time`,
    )
    t.same([...rows], [
      { at: '2035-01-31T23:59', part: 'usage_buckets_p203501' },
      { at: '2035-02-01T00:00', part: 'usage_buckets_p203502' },
      { at: '2035-02-01T03:00', part: 'usage_buckets_p203502' },
    ])
  }),
)
