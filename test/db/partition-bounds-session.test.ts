import t from 'tap'
import type { Db } from '../../src/db/client.js'
import { maintainPartitions } from '../../src/db/partitions.js'
import { beforeRetention, retentionGuard } from '../../src/ingest/retention.js'
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
    // A session of its own (one connection) set as psql or another client may be: the server's own
    // connections start with DateStyle ISO (src/db/client.ts), the function must not depend on that.
    const db: Db = engine === 'pglite' ? base : await otherSession(t, base)
    await db.query(`set timezone = 'Asia/Kolkata'`)
    await db.query(`set datestyle = 'SQL, DMY'`)
    const [ds] = await db.query<{ d: string }>("select current_setting('datestyle') as d")
    t.equal(ds!.d, 'SQL, DMY', 'the session has those settings')
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

void t.test('months ahead cross a year end; the 1st 00:00 UTC is kept by a cutoff of that instant', (t) =>
  eachEngine(t, async (t, engine) => {
    const db = await freshDb(t, engine)
    const r = await maintainPartitions(db, { monthsAhead: 3 }, new Date('2036-11-30T23:59:59.999Z'))
    t.same(r.created.filter((n) => n.startsWith('usage_events_')), ['usage_events_p203611', 'usage_events_p203612', 'usage_events_p203701', 'usage_events_p203702'])
    const guard = retentionGuard(2, new Date('2037-03-01T00:00:00Z'))!
    t.same(guard.cutoff, new Date('2037-01-01T00:00:00Z'))
    t.equal(beforeRetention(guard, Date.parse('2037-01-01T00:00:00Z')), undefined, 'the first instant of the cutoff month is written')
    t.match(beforeRetention(guard, Date.parse('2036-12-31T23:59:59.999Z')), /before the retention cutoff 2037-01-01T00:00:00.000Z/, 'a millisecond before is refused')
  }),
)
