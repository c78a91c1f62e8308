import { Readable } from 'node:stream'
import t from 'tap'
import type { Db } from '../../src/db/client.js'
import { maintainPartitions, utcMonth } from '../../src/db/partitions.js'
import { ingestCsvUpload, ingestJsonBody } from '../../src/ingest/ingest-buckets.js'
import { retentionGuard } from '../../src/ingest/retention.js'
import { eachEngine, freshDb, uniqueId } from '../helpers.js'

// A write takes its retention guard when the request starts and writes later (a CSV spooled first, a
// page set parsed, accounts' locks awaited). A request that started in the last instant of a month and
// wrote after maintenance, on the 1st, dropped the month that fell out of RETENTION_MONTHS passed the
// old guard: its rows of that month went to the default partition and the hourly rollup — which keeps
// the dropped rows — counted a re-import twice. Now each write transaction checks its rows again, under
// a lock that retention's drop waits for, against the cutoff as of then: 400 naming them, nothing written.

const RETENTION = 1
const now = new Date()
// The request started at the last millisecond of the month before this one: its cutoff is a month earlier.
const startedAt = new Date(utcMonth(now).getTime() - 1)
const dropped = utcMonth(now, -RETENTION - 1) // the month that falls out at the turn of the month
const start = new Date(dropped.getTime() + 3_600_000).toISOString()
const end = new Date(dropped.getTime() + 7_200_000).toISOString()

const hourlyInput = async (db: Db, tenant: string) =>
  (await db.query<{ n: number | null }>('select sum(input_tokens)::int8 as n from usage_bucket_hourly where tenant_id = $1', [tenant]))[0]!.n

void t.test('rows of the month retention dropped while the request was under way are refused, not counted twice', (t) =>
  eachEngine(t, async (t, engine) => {
    const db = await freshDb(t, engine)
    const staleGuard = () => retentionGuard(RETENTION, startedAt)
    t.ok(staleGuard()!.cutoff <= dropped && retentionGuard(RETENTION, now)!.cutoff > dropped, 'the month is inside the old cutoff and outside the new one')
    const forms = {
      json: (tenant: string) => ingestJsonBody(db, tenant, { buckets: [{ start_time: start, end_time: end, model: 'gpt-4o', input_tokens: 10 }] }, {}, staleGuard()),
      jsonWithResources: (tenant: string) =>
        ingestJsonBody(
          db,
          tenant,
          {
            buckets: [{ start_time: start, end_time: end, model: 'gpt-4o', input_tokens: 10 }],
            resources: [{ start_time: start, end_time: end, resource: 'images', quantity: '2' }],
          },
          {},
          staleGuard(),
        ),
      csv: (tenant: string) =>
        ingestCsvUpload(
          db,
          tenant,
          Readable.from([`start_time,end_time,model,input_tokens\n${dropped.getTime() / 1000 + 3600},${dropped.getTime() / 1000 + 7200},gpt-4o,10\n`]),
          {},
          1 << 20,
          staleGuard(),
        ),
    }
    const tenants: Record<string, string> = {}
    await maintainPartitions(db, { monthsAhead: 0 }, dropped)
    for (const form of Object.keys(forms) as (keyof typeof forms)[]) {
      tenants[form] = uniqueId(form)
      await db.query('insert into tenants (id, name) values ($1, $1)', [tenants[form]])
      // Before the turn of the month (this clock has passed it): stored in its month's partition and counted by the rollup.
      await db.query(
        `insert into usage_buckets (tenant_id, provider, start_time, end_time, model, service_tier, source, input_tokens, num_model_requests)
         values ($1, 'openai', $2, $3, 'gpt-4o', 'default', 'api', 10, 0)`,
        [tenants[form], start, end],
      )
    }
    // The 1st: maintenance drops the month (the rollup keeps its hours).
    const r = await maintainPartitions(db, { retentionMonths: RETENTION, monthsAhead: 0 }, now)
    t.ok(r.dropped.includes(`usage_buckets_p${dropped.toISOString().slice(0, 7).replace('-', '')}`), 'the month was dropped')
    for (const form of Object.keys(forms) as (keyof typeof forms)[]) {
      const tenant = tenants[form]!
      t.equal(await hourlyInput(db, tenant), 10, `${form}: the rollup holds the dropped hour once`)
      // The same rows again, by a request whose guard was taken before the turn.
      const err = await forms[form](tenant).then(
        () => undefined,
        (e: unknown) => e as { statusCode?: number; errors?: { message: string }[] },
      )
      t.equal(err?.statusCode, 400, `${form}: refused`)
      t.match(err?.errors?.[0]?.message ?? '', /before the retention cutoff/, `${form}: the row is named as before the retention cutoff`)
      t.equal(await hourlyInput(db, tenant), 10, `${form}: the rollup still counts the hour once`)
      const [raw] = await db.query<{ n: number }>('select count(*)::int8 as n from usage_buckets where tenant_id = $1', [tenant])
      t.equal(raw!.n, 0, `${form}: nothing stored in the default partition`)
    }
  }),
)
