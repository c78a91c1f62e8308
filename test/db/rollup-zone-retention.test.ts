import t from 'tap'
import { maintainPartitions, retentionCutoff, utcMonth } from '../../src/db/partitions.js'
import { syncRollupTimeZones } from '../../src/db/rollup-zones.js'
import { eachEngine, freshDb } from '../helpers.js'

// A zone added to ROLLUP_TIME_ZONES after retention dropped raw months is backfilled from the raw buckets
// that are left: its daily rows lack those months while the UTC rows keep them. The sync said nothing of
// it; it now reports the first instant the added zones cover (the retention cutoff), which the server logs.

const RETENTION = 1
const now = new Date()
const old = new Date(utcMonth(now, -RETENTION - 2).getTime() + 86_400_000) // a dropped month
const kept = new Date(utcMonth(now, -RETENTION).getTime() + 86_400_000) // a retained month

void t.test('a zone added after retention dropped months reports the first instant it covers', (t) =>
  eachEngine(t, async (t, engine) => {
    const db = await freshDb(t, engine)
    await db.query(`insert into tenants (id, name) values ('zr', 'zr')`)
    for (const start of [old, kept]) {
      await maintainPartitions(db, { monthsAhead: 0 }, start)
      await db.query(
        `insert into usage_buckets (tenant_id, provider, start_time, end_time, model, service_tier, source, input_tokens, num_model_requests, api_key_id)
         values ('zr', 'openai', $1, $1::timestamptz + interval '1 hour', 'gpt-4o', 'default', 'api', 10, 1, 'k1')`,
        [start],
      )
    }
    const cutoff = retentionCutoff(RETENTION, now)!
    t.same(await syncRollupTimeZones(db, [], undefined, RETENTION, now), { added: [], removed: [] }, 'nothing added: nothing to report')
    const r = await maintainPartitions(db, { retentionMonths: RETENTION, monthsAhead: 0 }, now)
    t.ok(r.dropped.length > 0, 'retention dropped the old month')

    const change = await syncRollupTimeZones(db, ['Asia/Kolkata'], undefined, RETENTION, now)
    t.same(change, { added: ['Asia/Kolkata'], removed: [], coveredFrom: cutoff }, 'the added zone covers the retention cutoff on')
    const days = await db.query<{ time_zone: string; before: boolean }>(
      `select time_zone, day < $1 as before from usage_bucket_daily where tenant_id = 'zr' order by time_zone, day`,
      [cutoff],
    )
    t.same([...days], [
      { time_zone: 'Asia/Kolkata', before: false },
      { time_zone: 'UTC', before: true },
      { time_zone: 'UTC', before: false },
    ], 'the UTC rows keep the dropped month, the added zone has the retained one only')

    t.same(await syncRollupTimeZones(db, ['Asia/Kolkata', 'Europe/Berlin']), { added: ['Europe/Berlin'], removed: [] }, 'without RETENTION_MONTHS nothing was dropped: nothing to report')
  }),
)
