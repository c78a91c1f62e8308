import t from 'tap'
import { engines, holdLocks } from '../helpers.js'
import { seedBuckets, type SeedBucket } from '../factories/usage.js'
import { freshPostgres, startServer } from '../connections/support/server-process.js'

/**
 * SIGTERM while the server backfills a zone added to ROLLUP_TIME_ZONES (src/db/rollup-zones.ts): the
 * backfill is cancelled and rolls back whole, the process exits 0 within GRACE_MS, and the next start
 * backfills the zone once — its daily rows add up to the base table exactly. Another session holds the
 * daily rollup table, so the backfill statement is caught in progress (its zone already listed inside
 * its transaction) however fast the machine. PostgreSQL only: PGlite is one process per data directory
 * and cannot interrupt a statement.
 */
const ZONE = 'Asia/Kolkata'
const HOUR = 3_600_000

void t.test('SIGTERM during a rollup-zone backfill: exit 0, nothing half-written, the next start completes it once', { skip: !engines().includes('postgres') && 'PostgreSQL only' }, async (t) => {
  const { url, db } = await freshPostgres(t)
  const tenantId = 'zones-shutdown'
  await db.query('insert into tenants (id, name) values ($1, $1)', [tenantId])
  const start = Date.parse('2025-10-01T00:00:00Z')
  const buckets: SeedBucket[] = Array.from({ length: 240 }, (_, i) => ({
    start: new Date(start + i * HOUR),
    end: new Date(start + (i + 1) * HOUR),
    model: i % 2 ? 'gpt-5-mini-2025-08-07' : 'gpt-5-2025-08-07',
    projectId: `proj_${i % 3}`,
    inText: 1000 + i,
    outText: 7 * i,
  }))
  await seedBuckets(db, tenantId, buckets)
  const env = { DATABASE_URL: url, ROLLUP_TIME_ZONES: ZONE, GRACE_MS: '10000' }
  const zoneRows = async () => (await db.query<{ n: number }>('select count(*)::int8 as n from usage_bucket_daily where time_zone = $1', [ZONE]))[0]!.n
  const listed = async () => (await db.query<{ time_zone: string }>('select time_zone from rollup_time_zones order by 1')).map((r) => r.time_zone)

  const held = await holdLocks(t, db, 'lock table usage_bucket_daily in exclusive mode')
  const first = startServer(t, env)
  await first.url
  // The backfill's statement, waiting for the daily table inside the zone's transaction.
  for (let i = 0; ; i++) {
    const waiting = await db.query("select 1 from pg_stat_activity where datname = current_database() and query like '%usage_bucket_daily_backfill(%' and wait_event_type = 'Lock' and pid <> pg_backend_pid()")
    if (waiting.length > 0) break
    if (i > 600) throw new Error('the backfill never started')
    await new Promise((r) => setTimeout(r, 50))
  }
  const sent = Date.now()
  first.child.kill('SIGTERM')
  // Exit 0 is the proof it stopped within GRACE_MS (past it, close-with-grace exits 1): 10 s, room for a
  // loaded machine, while the held lock would keep an uncancelled backfill waiting for ever. The elapsed
  // time also counts the child's own exit, which a loaded machine can stretch past the grace.
  t.equal(await first.exit, 0, 'SIGTERM stops the backfill and exits 0, within GRACE_MS')
  t.ok(Date.now() - sent < 20_000, `promptly (${Date.now() - sent} ms)`)
  t.match(first.stdout(), /daily rollup zones: stopped by the shutdown/, 'the log says the zones were left for the next start')
  await held.release()
  t.same(await listed(), ['UTC'], 'the zone is not listed: the backfill rolled back whole')
  t.equal(await zoneRows(), 0, 'no daily row of the zone was kept')

  const again = startServer(t, env)
  await again.url
  for (let i = 0; !(await listed()).includes(ZONE); i++) {
    if (i > 600) throw new Error('the zone was never backfilled')
    await new Promise((r) => setTimeout(r, 50))
  }
  again.child.kill('SIGTERM')
  t.equal(await again.exit, 0)

  const totals = async (table: string, zone?: string) =>
    (await db.query<{ rows: string; input: string; output: string }>(
      `select sum(${table === 'usage_buckets' ? '1' : 'bucket_count'})::text as rows, sum(input_tokens)::text as input, sum(output_tokens)::text as output
         from ${table} where tenant_id = $1 ${zone ? 'and time_zone = $2' : ''}`,
      zone ? [tenantId, zone] : [tenantId],
    ))[0]
  const base = await totals('usage_buckets')
  t.same(base, { rows: '240', input: String(240 * 1000 + (239 * 240) / 2), output: String((7 * 239 * 240) / 2) }, 'the seeded buckets')
  t.same(await totals('usage_bucket_daily', ZONE), base, 'the zone counts every bucket exactly once')
  t.same(await totals('usage_bucket_daily', 'UTC'), base)
  const [days] = await db.query<{ n: number }>(
    "select count(distinct ((start_time at time zone 'Asia/Kolkata')::date, project_id, model))::int8 as n from usage_buckets where tenant_id = $1",
    [tenantId],
  )
  t.equal(await zoneRows(), days!.n, 'one row per Kolkata day, project and model')
})
