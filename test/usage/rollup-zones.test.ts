import t, { type Test } from 'tap'
import { sql } from 'drizzle-orm'
import type { DbClient } from '../../src/db/client.js'
import { maintainPartitions } from '../../src/db/partitions.js'
import { ROLLUP_ZONES_LOCK_KEY, syncRollupTimeZones } from '../../src/db/rollup-zones.js'
import { queryUsagePage, type UsageArgs } from '../../src/usage/usage-service.js'
import { rng } from '../factories/expected.js'
import { seedBuckets, seedCard, type SeedBucket } from '../factories/usage.js'
import Fastify from 'fastify'
import app_ from '../../src/app.js'
import { bearer, build, eachEngine, freshDb, tenantWithKey, testConfig, waitFor } from '../helpers.js'

// The daily rollup kept per local day of each zone of ROLLUP_TIME_ZONES (migration 0011): equal to the
// base table grouped by that zone's days after every kind of write, and read for a zone's DAY/WEEK/MONTH
// queries exactly when it gives the base table's answer.

const HOUR = 3_600_000
const DAY = 24 * HOUR
const T0 = Date.parse('2025-10-25T00:00:00Z') // spans the US DST change of 2025-11-02
const ZONES = ['America/Havana', 'America/New_York', 'Asia/Kathmandu', 'Asia/Kolkata']
const KOLKATA = T0 - 5.5 * HOUR // 2025-10-25 00:00 in Asia/Kolkata
const NEW_YORK = T0 + 4 * HOUR // 2025-10-25 00:00 in America/New_York (EDT)
const KATHMANDU = T0 - 5.75 * HOUR
// Havana falls back at 01:00 on 2025-11-02 to 00:00: that day's 00:00 happens twice, and PostgreSQL starts
// the day at the second (05:00 UTC), after the buckets of the first hour.
const HAVANA_REPEAT = T0 + 8 * DAY + 5 * HOUR

/** Minute, 7-minute, hourly and UTC-daily buckets (a UTC day starts in the middle of a Kolkata day). */
function buckets(seed: number, n: number): SeedBucket[] {
  const r = rng(seed)
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)]!
  return Array.from({ length: n }, (_, i) => {
    const daily = r() < 0.15
    const startMs = daily ? T0 + Math.floor(r() * 14) * DAY : T0 - DAY + Math.floor(r() * 16 * 24 * 60) * 60_000
    return {
      start: new Date(startMs),
      end: new Date(startMs + (daily ? DAY : pick([60_000, 7 * 60_000, HOUR]))),
      model: pick(['gpt-5-mini-2025-08-07', 'gpt-5-2025-08-07', null]),
      projectId: pick(['proj_a', 'proj_b', null]),
      userId: pick(['u1', 'u2', null]),
      apiKeyId: `key_${i % 40}`,
      serviceTier: pick(['default', 'flex']),
      batch: pick([false, true, null]),
      requests: r() < 0.3 ? null : Math.floor(r() * 9),
      inText: Math.floor(r() * 90_000),
      cachedText: Math.floor(r() * 9_000),
      outText: Math.floor(r() * 40_000),
      source: pick(['api', 'openai_csv', 'openai_api']),
    }
  })
}

const COUNTERS = `bucket_count, requests_known, num_model_requests, input_tokens, output_tokens, in_text, in_audio,
  in_image, cached_text, cached_audio, cached_image, cache_write, cache_write_1h, out_text, out_audio, out_image`

/** The daily rollup as stored, and as it must be by definition: usage_buckets grouped by each listed zone's local day. */
async function zonedVsBase(db: DbClient): Promise<[unknown[], unknown[]]> {
  const dims = `provider, account_id, project_id, user_id, api_key_id, model, service_tier, batch, source, usage_type, context_tier, inference_geo`
  const order = `order by ${Array.from({ length: 15 }, (_, i) => i + 1).join(', ')}`
  const stored = await db.query(`select time_zone, tenant_id, day, ${dims}, ${COUNTERS} from usage_bucket_daily ${order}`)
  const expected = await db.query(`select z.time_zone, tenant_id, date_trunc('day', start_time, z.time_zone) as day, ${dims},
      count(*)::int8 as bucket_count, count(num_model_requests)::int8 as requests_known,
      coalesce(sum(num_model_requests), 0)::int8 as num_model_requests,
      ${COUNTERS.split(',').slice(3).map((c) => `sum(${c.trim()})::int8 as ${c.trim()}`).join(', ')}
    from usage_buckets cross join rollup_time_zones z group by ${Array.from({ length: 15 }, (_, i) => i + 1).join(', ')} ${order}`)
  return [stored, expected]
}

const listed = async (db: DbClient) => (await db.query<{ z: string }>('select time_zone as z from rollup_time_zones order by 1')).map((r) => r.z)

/** The zones listed once the start-up sync, which runs after the server is ready, has listed `zone` (30 s at most). */
async function listedOnce(db: DbClient, zone: string): Promise<string[]> {
  return waitFor(`${zone} to be listed`, async () => {
    const zones = await listed(db)
    return zones.includes(zone) ? zones : undefined
  }, { timeoutMs: 30_000, everyMs: 100 }).catch(() => listed(db))
}

t.test('ROLLUP_TIME_ZONES is a comma-separated list of IANA zones, UTC implied', async (t) => {
  t.same(testConfig().ROLLUP_TIME_ZONES, [])
  t.same(testConfig({ ROLLUP_TIME_ZONES: ' Asia/Kolkata, UTC,America/New_York,Asia/Kolkata,' }).ROLLUP_TIME_ZONES, ['Asia/Kolkata', 'America/New_York'])
  t.throws(() => testConfig({ ROLLUP_TIME_ZONES: 'Asia/Kolkata,+05:30' }), /ROLLUP_TIME_ZONES: must be IANA zone names/)
})

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine, { ROLLUP_TIME_ZONES: ZONES.join(', ') })
  const db = app.testDb

  await t.test('start-up lists UTC and ROLLUP_TIME_ZONES; a later sync adds, backfills and removes zones', async (t) => {
    t.same(await listedOnce(db, 'Asia/Kolkata'), ['America/Havana', 'America/New_York', 'Asia/Kathmandu', 'Asia/Kolkata', 'UTC'])
    const tenant = (await tenantWithKey(app)).tenantId
    await seedBuckets(db, tenant, buckets(3, 120))
    t.same(await syncRollupTimeZones(db, [...ZONES, 'Europe/Berlin']), { added: ['Europe/Berlin'], removed: [] })
    t.same(...(await zonedVsBase(db)), 'an added zone is backfilled from the stored buckets')
    t.same(await syncRollupTimeZones(db, [...ZONES, 'Europe/Berlin']), { added: [], removed: [] }, 'a second sync changes nothing')
    t.same(await syncRollupTimeZones(db, ZONES), { added: [], removed: ['Europe/Berlin'] })
    const [left] = await db.query<{ n: number }>(`select count(*)::int8 as n from usage_bucket_daily where time_zone = 'Europe/Berlin'`)
    t.equal(left!.n, 0, 'a removed zone loses its rows')
    await t.rejects(syncRollupTimeZones(db, [...ZONES, 'Mars/Olympus_Mons']), /does not know: Mars\/Olympus_Mons/)
    t.same(await listed(db), ['America/Havana', 'America/New_York', 'Asia/Kathmandu', 'Asia/Kolkata', 'UTC'], 'a failed sync changes nothing')
  })

  await t.test('every kept zone equals the grouped base table after every kind of write', async (t) => {
    const { tenantId, key } = await tenantWithKey(app)
    await seedCard(db, `flat-${tenantId}`, [{ model: '*', effectiveFrom: new Date('2025-01-01T00:00:00Z'), prices: { input: '1.25', cached_input: '0.125', output: '10' } }])
    const kolkataDays = async (what: string) => {
      t.same(...(await zonedVsBase(db)), `${what}: the rollup of every zone`)
      const a: UsageArgs = {
        tenantId, from: new Date(KOLKATA), to: new Date(KOLKATA + 14 * DAY), window: 'DAY', timeZone: 'Asia/Kolkata', groupBy: ['PROJECT'],
        groupByLabels: [], filter: {}, rateCard: `flat-${tenantId}`, first: 1000,
      }
      const [viaRollup, viaBase] = [await queryUsagePage(db, a, { maxGroups: 100_000 }), await queryUsagePage(db, { ...a, rollups: false }, { maxGroups: 100_000 })]
      t.same([viaRollup.rows, viaRollup.totals], [viaBase.rows, viaBase.totals], `${what}: Kolkata days by project equal the base table`)
    }
    const ingest = async (rows: Record<string, unknown>[]) => {
      const res = await app.inject({ method: 'POST', url: '/v1/usage/buckets', headers: bearer(key), payload: { buckets: rows } })
      t.equal(res.statusCode, 200, res.body)
    }
    // 18:00 and 19:00 UTC on the same UTC day are different days in Kolkata (23:30 and 00:30).
    const row = (hour: number, project: string, input: number) => ({
      start_time: T0 / 1000 + hour * 3600, end_time: T0 / 1000 + hour * 3600 + 3600, model: 'gpt-5', project_id: project, input_tokens: input, output_tokens: 7,
    })
    await ingest([row(18, 'a', 100), row(19, 'a', 50), row(23, 'b', 10)])
    await kolkataDays('after creating buckets')
    await ingest([row(18, 'a', 100), row(19, 'a', 51), row(23, 'b', 10)])
    await kolkataDays('after a re-upload that replaces one bucket')
    await seedBuckets(db, tenantId, buckets(7, 300))
    await kolkataDays('after bulk inserts')
    const del = await app.inject({ method: 'DELETE', url: `/v1/usage/buckets?start_time=${T0 / 1000}&end_time=${T0 / 1000 + 3 * 86_400}`, headers: bearer(key) })
    t.equal(del.statusCode, 200, del.body)
    await kolkataDays('after DELETE by range')
    await db.query(sql`update usage_buckets set project_id = 'moved', start_time = start_time + interval '5 hours 30 minutes',
      end_time = end_time + interval '5 hours 30 minutes' where tenant_id = ${tenantId} and model is null`)
    await kolkataDays('after an UPDATE that moves buckets across local days')
    const [empty] = await db.query<{ n: number }>('select count(*)::int8 as n from usage_bucket_daily where bucket_count = 0')
    t.equal(empty!.n, 0, 'no empty rollup rows are left behind')
    await db.query('truncate usage_buckets')
    const [left] = await db.query<{ n: number }>('select count(*)::int8 as n from usage_bucket_daily')
    t.equal(left!.n, 0, 'TRUNCATE empties every zone')
  })

  await t.test('a zone\'s queries read its rows exactly when they give the base answer', async (t) => {
    const tenant = (await tenantWithKey(app)).tenantId
    const [first] = buckets(12, 1)
    await seedBuckets(db, tenant, [...buckets(11, 500), { ...first!, start: new Date(HAVANA_REPEAT - HOUR / 2), end: new Date(HAVANA_REPEAT - HOUR / 2 + 60_000) }])
    const base = { model: 'gpt-5*', recordedAt: new Date('2025-01-01T00:00:00Z'), effectiveFrom: new Date('2025-01-01T00:00:00Z'), prices: { input: '1.25', cached_input: '0.125', output: '10' } }
    const card = async (name: string, change: number) => {
      await seedCard(db, `${name}-${tenant}`, [base, { ...base, effectiveFrom: new Date(change), prices: { input: '0.75', cached_input: '0.075', output: '6' } }])
      return `${name}-${tenant}`
    }
    const kolkataCard = await card('kolkata', KOLKATA + 4 * DAY)
    const newYorkCard = await card('new-york', NEW_YORK + 9 * DAY + HOUR) // after the change to EST: midnight is 05:00 UTC
    const kathmanduCard = await card('kathmandu', KATHMANDU + 5 * DAY)
    const utcCard = await card('utc', T0 + 4 * DAY)
    const args = (over: Partial<UsageArgs> = {}): UsageArgs => ({
      tenantId: tenant, from: new Date(KOLKATA), to: new Date(KOLKATA + 14 * DAY), window: 'DAY', timeZone: 'Asia/Kolkata',
      groupBy: ['PROJECT'], groupByLabels: [], filter: {}, rateCard: kolkataCard, first: 1000, pricingAsOf: new Date('2026-01-01T00:00:00Z'), ...over,
    })
    const newYork = { timeZone: 'America/New_York', from: new Date(NEW_YORK), to: new Date(NEW_YORK + 14 * DAY + HOUR), rateCard: newYorkCard }
    const cases: [string, Partial<UsageArgs>, string | undefined][] = [
      ['Kolkata days by project', {}, 'Asia/Kolkata'],
      ['Kolkata weeks by user', { window: 'WEEK', groupBy: ['USER'] }, 'Asia/Kolkata'],
      ['Kolkata month by project and model', { window: 'MONTH', groupBy: ['PROJECT', 'MODEL'] }, 'Asia/Kolkata'],
      ['Kolkata TOTAL by key, range on Kolkata midnights', { window: 'TOTAL', groupBy: ['API_KEY'] }, 'Asia/Kolkata'],
      // Zones on whole UTC hours: a project query takes the hourly rollup (it keeps project and user), a key query the zone's rows.
      ['New York days by key across DST', { ...newYork, groupBy: ['API_KEY'] }, 'America/New_York'],
      ['New York days by project across DST (the hourly rollup)', { ...newYork }, undefined],
      ['New York days by key, filtered by user', { ...newYork, groupBy: ['API_KEY'], filter: { userIds: ['u1'] } }, 'America/New_York'],
      ['Kathmandu days by user (+05:45)', { timeZone: 'Asia/Kathmandu', from: new Date(KATHMANDU), to: new Date(KATHMANDU + 10 * DAY), groupBy: ['USER'], rateCard: kathmanduCard }, 'Asia/Kathmandu'],
      ['UTC days by key', { timeZone: 'UTC', from: new Date(T0), to: new Date(T0 + 14 * DAY), rateCard: utcCard, groupBy: ['API_KEY'] }, 'UTC'],
      ['Kolkata TOTAL by key over UTC days', { window: 'TOTAL', from: new Date(T0), to: new Date(T0 + 14 * DAY), rateCard: utcCard, groupBy: ['API_KEY'] }, 'UTC'],
      ['Kolkata TOTAL by project over UTC days (the hourly rollup)', { window: 'TOTAL', from: new Date(T0), to: new Date(T0 + 14 * DAY), rateCard: utcCard }, undefined],
      ['Kolkata days, a price change at UTC midnight', { rateCard: utcCard }, undefined],
      ['Kolkata days, range on UTC midnights (partial local days from the base table)', { from: new Date(T0), to: new Date(T0 + 14 * DAY) }, 'Asia/Kolkata'],
      ['Kolkata weeks by key from 03:17 UTC to 21:50 UTC', { window: 'WEEK', groupBy: ['API_KEY'], from: new Date(T0 + 197 * 60_000), to: new Date(T0 + 12 * DAY + 1310 * 60_000) }, 'Asia/Kolkata'],
      ['Kolkata, twelve hours inside one local day', { from: new Date(T0), to: new Date(T0 + 12 * HOUR) }, undefined],
      ['New York days, a price change at the EDT midnight after DST ended', { ...newYork, rateCard: await card('edt', NEW_YORK + 9 * DAY) }, undefined],
      ['Berlin days (a zone not kept)', { timeZone: 'Europe/Berlin', from: new Date(T0 - 2 * HOUR), to: new Date(T0 + 13 * DAY - HOUR) }, undefined],
      ['Kolkata hours by project', { window: 'HOUR', to: new Date(KOLKATA + 2 * DAY) }, undefined],
      ['Havana days by key across its repeated midnight', { ...newYork, timeZone: 'America/Havana', groupBy: ['API_KEY'] }, 'America/Havana'],
      ['Havana days from the second of two midnights', { ...newYork, timeZone: 'America/Havana', from: new Date(HAVANA_REPEAT) }, undefined],
    ]
    for (const [name, over, zone] of cases) await expectZone(t, db, args({ ...over }), name, zone)
  })

  await t.test('rollup retention keeps a local day until all of it lies before the cutoff', async (t) => {
    const tenant = (await tenantWithKey(app)).tenantId
    const [b] = buckets(5, 1)
    const at = (iso: string) => ({ ...b!, start: new Date(iso), end: new Date(Date.parse(iso) + HOUR) })
    await seedBuckets(db, tenant, [at('2035-12-15T10:00:00Z'), at('2036-01-01T10:00:00Z')])
    // Cutoff 2036-01-01: Kolkata's 1 January started at 18:30 UTC on 31 December and holds the second bucket.
    await maintainPartitions(db, { monthsAhead: 0, rollupRetentionMonths: 2 }, new Date('2036-03-20T00:00:00Z'))
    const days = await db.query<{ z: string; d: Date }>(`select time_zone as z, day as d from usage_bucket_daily where tenant_id = $1 order by 1, 2`, [tenant])
    t.same(days.map((r) => `${r.z} ${r.d.toISOString()}`), [
      'America/Havana 2036-01-01T05:00:00.000Z', 'America/New_York 2036-01-01T05:00:00.000Z', 'Asia/Kathmandu 2035-12-31T18:15:00.000Z',
      'Asia/Kolkata 2035-12-31T18:30:00.000Z', 'UTC 2036-01-01T00:00:00.000Z',
    ])
  })
})

/**
 * The query gives the base table's rows and totals, is not vacuous, and reads `zone`'s rollup rows (or,
 * undefined, none): every zone's rows are skewed and only the expected zone's skew may show, by exactly
 * its amount per row of a whole local day inside the range.
 */
async function expectZone(t: Test, db: DbClient, a: UsageArgs, name: string, zone: string | undefined): Promise<void> {
  const run = (x: UsageArgs) => queryUsagePage(db, x, { maxGroups: 100_000 })
  const [viaRollup, viaBase] = [await run(a), await run({ ...a, rollups: false })]
  t.same(viaRollup.rows, viaBase.rows, `${name}: same rows as the base table`)
  t.same(viaRollup.totals, viaBase.totals, `${name}: same totals as the base table`)
  t.ok(viaBase.rows.length > 0 && viaBase.totals.cost.total !== '0', `${name}: not vacuous`)
  const skew = (n: number) => db.query(sql`update usage_bucket_daily set input_tokens = input_tokens + ${n}, in_text = in_text + ${n} where tenant_id = ${a.tenantId}`)
  await skew(1_000_000)
  const now = (await run(a)).totals.inputTokens
  await skew(-1_000_000)
  const list = (column: string, values: string[] | undefined) => (values?.length ? sql` and ${sql.raw(column)} = any(${sql.param(values)}::text[])` : sql``)
  const [scope] = await db.query<{ n: number }>(sql`select count(*)::int8 as n from usage_bucket_daily where tenant_id = ${a.tenantId}
      and time_zone = ${zone ?? ''} and day >= ${a.from.toISOString()}::timestamptz
      and ((day at time zone time_zone) + interval '1 day') at time zone time_zone <= ${a.to.toISOString()}::timestamptz
      ${list('user_id', a.filter.userIds)}`)
  t.ok(zone === undefined || scope!.n > 0, `${name}: the zone has rows in range`)
  t.equal(now, viaRollup.totals.inputTokens + 1_000_000 * scope!.n, `${name}: reads ${zone ? `the ${zone} rollup rows` : 'usage_buckets'}`)
}

void t.test('the server is ready before a zone backfill ends (a backfill of 10M buckets held start-up past its plugin timeout)', (t) =>
  eachEngine(t, (t, engine) =>
    t.test('ready while the sync waits for the zones lock', {
      skip: engine === 'pglite' ? 'PGlite has one connection: holding the sync lock in a transaction would hold every start-up statement' : false,
    }, async (t) => {
      const db = await freshDb(t, engine)
      const server = Fastify({ logger: false, pluginTimeout: 20_000 })
      // Another server's backfill holds the zones lock, so this one's sync waits for it as long as it lasts.
      await db.transaction(async (tx) => {
        await tx.query('select pg_advisory_xact_lock($1)', [ROLLUP_ZONES_LOCK_KEY])
        await server.register(app_, { config: testConfig({ ROLLUP_TIME_ZONES: 'Europe/Berlin' }), db })
        await server.ready()
        const zones = await tx.query<{ z: string }>('select time_zone as z from rollup_time_zones order by 1')
        t.same(zones.map((r) => r.z), ['UTC'], 'ready, and the zone is not listed yet')
      })
      t.same(await listedOnce(db, 'Europe/Berlin'), ['Europe/Berlin', 'UTC'], 'it is listed once the sync could run')
      await server.close()
    }).then(() => undefined),
  ),
)
