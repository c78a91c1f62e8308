import t, { type Test } from 'tap'
import { sql } from 'drizzle-orm'
import type { DbClient } from '../../src/db/client.js'
import { queryUsagePage, type UsageArgs } from '../../src/usage/usage-service.js'
import { rng } from '../factories/expected.js'
import { seedResources, type SeedResource } from '../factories/resources.js'
import { dailyVsBase, rollupVsBase } from '../factories/rollups.js'
import { seedBuckets, seedCard, type SeedBucket } from '../factories/usage.js'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

// The hourly and daily rollups of provider buckets: kept equal to the base table by triggers on every
// write path, read by the query layer exactly when they give the base table's answer, and never otherwise.

const HOUR = 3_600_000
const T0 = Date.parse('2025-10-25T00:00:00Z') // a window that spans the EU and US DST changes

/** Minute, odd-length and hourly buckets, several per hour, some with unknown request counts. */
function buckets(seed: number, n: number): SeedBucket[] {
  const r = rng(seed)
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)]!
  return Array.from({ length: n }, (_, i) => {
    const startMs = T0 + Math.floor(r() * 14 * 24 * 60) * 60_000
    const start = new Date(startMs)
    return {
      start,
      end: new Date(startMs + pick([60_000, 7 * 60_000, HOUR])),
      model: pick(['gpt-5-mini-2025-08-07', 'gpt-5-2025-08-07', 'mystery', null]),
      provider: pick(['openai', 'azure']),
      accountId: pick(['org_1', null]),
      projectId: pick(['proj_a', 'proj_b', null]),
      userId: pick(['u1', null]),
      apiKeyId: `key_${i}`,
      serviceTier: pick(['default', 'flex']),
      batch: pick([false, true, null]),
      requests: r() < 0.3 ? null : Math.floor(r() * 9),
      inText: Math.floor(r() * 90_000),
      cachedText: Math.floor(r() * 9_000),
      cacheWrite: r() < 0.3 ? Math.floor(r() * 900) : 0,
      outText: Math.floor(r() * 40_000),
      inAudio: r() < 0.2 ? Math.floor(r() * 5_000) : 0,
      source: pick(['api', 'openai_csv', 'openai_api', 'anthropic_api']),
      usageType: pick(['completions', 'completions', 'embeddings']),
      contextTier: pick([null, '0-200k', '200k-1M']),
      inferenceGeo: pick([null, 'us']),
      cacheWrite1h: r() < 0.3 ? Math.floor(r() * 900) : 0,
    }
  })
}

/** Resource rows of every kind, storage with odd lengths (its cost is rounded per stored bucket). */
function resources(seed: number, n: number): SeedResource[] {
  const r = rng(seed)
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)]!
  return Array.from({ length: n }, (_, i) => {
    const startMs = T0 + Math.floor(r() * 14 * 24 * 60) * 60_000
    const resource = pick(['images', 'storage_bytes', 'web_search_calls', 'characters'])
    return {
      start: new Date(startMs),
      end: new Date(startMs + pick([60_000, 7 * 60_000 + 13_000, HOUR, 24 * HOUR])),
      model: pick(['gpt-5-mini-2025-08-07', 'dall-e-2', null]),
      provider: pick(['openai', 'azure']),
      accountId: pick(['org_1', null]),
      projectId: pick(['proj_a', null]),
      contextTier: pick([null, '0-200k']),
      inferenceGeo: pick([null, 'us']),
      resource,
      attributes: { n: String(i), ...(r() < 0.5 ? { size: pick(['1024x1024', '256x256']) } : {}) },
      quantity: resource === 'storage_bytes' ? String(Math.floor(r() * 5e10)) : `${Math.floor(r() * 90)}.${Math.floor(r() * 1000)}`,
      source: pick(['api', 'openai_api']),
    }
  })
}

const UNIT_PRICES = [
  { resource: 'images', price: '0.02' },
  { resource: 'images', attributes: { size: '1024x1024' }, price: '0.04' },
  { resource: 'storage_bytes', price: '0.1' },
  { resource: 'web_search_calls', price: '0.025' },
]

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const db = app.testDb
  const { tenantId, key } = await tenantWithKey(app)

  await t.test('the rollup equals the grouped base table after every kind of write', async (t) => {
    const ingest = async (rows: Record<string, unknown>[]) => {
      const res = await app.inject({ method: 'POST', url: '/v1/usage/buckets', headers: bearer(key), payload: { buckets: rows } })
      t.equal(res.statusCode, 200, res.body)
    }
    const row = (minute: number, model: string, input: number, requests?: number) => ({
      start_time: T0 / 1000 + minute * 60,
      end_time: T0 / 1000 + minute * 60 + 60,
      model,
      input_tokens: input,
      output_tokens: 7,
      ...(requests === undefined ? {} : { num_model_requests: requests }),
    })
    await ingest([row(1, 'a', 100, 2), row(2, 'a', 50), row(61, 'b', 10, 1)])
    t.same(...(await rollupVsBase(db)), 'after creating buckets')
    t.same(...(await dailyVsBase(db)), 'after creating buckets (daily)')
    await ingest([row(1, 'a', 100, 2), row(2, 'a', 51, 4), row(61, 'b', 10, 1)])
    t.same(...(await rollupVsBase(db)), 'after a re-upload that replaces one bucket and leaves two')
    t.same(...(await dailyVsBase(db)), 'after a re-upload that replaces one bucket and leaves two (daily)')
    await seedBuckets(db, tenantId, buckets(7, 300))
    t.same(...(await rollupVsBase(db)), 'after bulk inserts')
    t.same(...(await dailyVsBase(db)), 'after bulk inserts (daily)')
    const del = await app.inject({
      method: 'DELETE',
      url: `/v1/usage/buckets?start_time=${T0 / 1000}&end_time=${T0 / 1000 + 3 * 86_400}`,
      headers: bearer(key),
    })
    t.equal(del.statusCode, 200, del.body)
    t.same(...(await rollupVsBase(db)), 'after DELETE by range')
    t.same(...(await dailyVsBase(db)), 'after DELETE by range (daily)')
    await db.query(sql`update usage_buckets set model = 'moved', start_time = start_time + interval '2 hours',
      end_time = end_time + interval '2 hours' where tenant_id = ${tenantId} and model is null`)
    t.same(...(await rollupVsBase(db)), 'after an UPDATE that moves buckets to other rollup rows')
    t.same(...(await dailyVsBase(db)), 'after an UPDATE that moves buckets to other rollup rows (daily)')
    await db.query(sql`update usage_buckets set start_time = date_trunc('hour', start_time, 'UTC'), end_time = date_trunc('hour', start_time, 'UTC') + interval '1 hour'
      where tenant_id = ${tenantId} and api_key_id like 'key_%' and model = 'mystery'`)
    t.same(...(await rollupVsBase(db)), 'after an UPDATE that moves off-hour buckets onto the hour')
    t.same(...(await dailyVsBase(db)), 'after an UPDATE that moves off-hour buckets onto the hour (daily)')
    await db.query(sql`update usage_buckets set start_time = start_time + interval '30 minutes', end_time = end_time + interval '30 minutes'
      where tenant_id = ${tenantId} and api_key_id like 'key_%' and model = 'mystery' and service_tier = 'flex'`)
    t.same(...(await rollupVsBase(db)), 'after an UPDATE that moves on-hour buckets off the hour')
    const [empty] = await db.query<{ n: number }>('select count(*)::int8 as n from usage_bucket_hourly where bucket_count = 0')
    t.equal(empty!.n, 0, 'no empty rollup rows are left behind')
    const [emptyDaily] = await db.query<{ n: number }>('select count(*)::int8 as n from usage_bucket_daily where bucket_count = 0')
    t.equal(emptyDaily!.n, 0, 'no empty daily rollup rows are left behind')
    await db.query('truncate usage_buckets')
    const [left] = await db.query<{ n: number }>('select count(*)::int8 as n from usage_bucket_hourly')
    t.equal(left!.n, 0, 'TRUNCATE empties the rollup too')
    const [leftDaily] = await db.query<{ n: number }>('select count(*)::int8 as n from usage_bucket_daily')
    t.equal(leftDaily!.n, 0, 'TRUNCATE empties the daily rollup too')
  })

  await t.test('queries read the rollup exactly when it gives the base answer', async (t) => {
    const tenant = (await tenantWithKey(app)).tenantId
    await seedBuckets(db, tenant, buckets(11, 600))
    await seedResources(db, tenant, resources(12, 300))
    const recordedAt = new Date('2025-01-01T00:00:00Z')
    const base = { model: 'gpt-5*', recordedAt, effectiveFrom: new Date('2025-01-01T00:00:00Z'), prices: { input: '1.25', cached_input: '0.125', output: '10' } }
    const change = (at: string) => ({ ...base, effectiveFrom: new Date(at), prices: { input: '0.75', cached_input: '0.075', output: '6' } })
    // Resources of any model are priced by `*` (characters are left unpriced on purpose).
    const any = { ...base, model: '*', prices: {}, unitPrices: UNIT_PRICES }
    const anyChange = (at: string) => ({ ...any, effectiveFrom: new Date(at), unitPrices: UNIT_PRICES.map((u) => ({ ...u, price: `${u.price}1` })) })
    await seedCard(db, `on-hour-${tenant}`, [base, change('2025-10-29T17:00:00Z'), any, anyChange('2025-10-30T05:00:00Z')])
    await seedCard(db, `off-hour-${tenant}`, [base, change('2025-10-29T17:30:00Z'), any, anyChange('2025-10-30T05:00:00Z')])
    await seedCard(db, `on-day-${tenant}`, [base, change('2025-10-29T00:00:00Z'), any, anyChange('2025-10-30T00:00:00Z')])
    const onDay = `on-day-${tenant}`

    const args = (over: Partial<UsageArgs> = {}): UsageArgs => ({
      tenantId: tenant,
      from: new Date(T0),
      to: new Date(T0 + 14 * 24 * HOUR),
      window: 'DAY',
      timeZone: 'UTC',
      groupBy: ['MODEL'],
      groupByLabels: [],
      filter: {},
      rateCard: `on-hour-${tenant}`,
      first: 1000,
      pricingAsOf: new Date('2026-01-01T00:00:00Z'),
      ...over,
    })
    const cases: Case[] = [
      ['UTC days by model', {}, 'hourly'],
      ['New York days (whole-hour offsets, across DST)', { timeZone: 'America/New_York' }, 'hourly'],
      ['Berlin weeks by tier and batch', { timeZone: 'Europe/Berlin', window: 'WEEK', groupBy: ['SERVICE_TIER', 'BATCH'] }, 'hourly'],
      ['hours, modality, source filter', { window: 'HOUR', groupBy: ['MODALITY', 'SOURCE'], filter: { sources: ['api', 'openai_csv'] } }, 'hourly'],
      ['month total with filters', { window: 'MONTH', groupBy: ['PROVIDER', 'ACCOUNT'], filter: { models: ['gpt-5-2025-08-07'], batch: false } }, 'hourly'],
      ['TOTAL in Kolkata', { window: 'TOTAL', timeZone: 'Asia/Kolkata' }, 'hourly'],
      ['days by resource, usage type, context tier and geo', { groupBy: ['RESOURCE', 'USAGE_TYPE', 'CONTEXT_TIER', 'INFERENCE_GEO'] }, 'hourly'],
      ['resources by attribute, filtered', { window: 'WEEK', groupBy: ['RESOURCE', 'MODEL'], groupByAttributes: ['size'], filter: { resources: ['tokens', 'images', 'storage_bytes', 'characters'], contextTiers: ['0-200k'] } }, 'hourly'],
      ['modality with resources', { window: 'TOTAL', groupBy: ['MODALITY', 'RESOURCE'] }, 'hourly'],
      // Project and user are in the hourly rollup (migration 0015); the API key only in the daily one.
      ['UTC days by project, prices change at midnight', { groupBy: ['PROJECT'], rateCard: onDay }, 'hourly'],
      ['weeks by key and user, filtered by project', { window: 'WEEK', groupBy: ['API_KEY', 'USER'], filter: { projectIds: ['proj_a'] }, rateCard: onDay }, 'daily'],
      ['month by project and model', { window: 'MONTH', groupBy: ['PROJECT', 'MODEL'], rateCard: onDay }, 'hourly'],
      ['TOTAL by key in Kolkata', { window: 'TOTAL', timeZone: 'Asia/Kolkata', groupBy: ['API_KEY'], rateCard: onDay }, 'daily'],
      ['days by key, filtered by user', { groupBy: ['API_KEY'], filter: { userIds: ['u1'] }, rateCard: onDay }, 'daily'],
      ['days filtered by user', { filter: { userIds: ['u1'] }, rateCard: onDay }, 'hourly'],
      ['project, modality and resources', { window: 'TOTAL', groupBy: ['PROJECT', 'MODALITY', 'RESOURCE'], rateCard: onDay }, 'hourly'],
      ['Kolkata days by project (half-hour offset)', { timeZone: 'Asia/Kolkata', groupBy: ['PROJECT'], rateCard: onDay }, 'base'],
      ['hours by project and user', { window: 'HOUR', groupBy: ['PROJECT', 'USER'], rateCard: onDay, to: new Date(T0 + 3 * 24 * HOUR) }, 'hourly'],
      ['hours by key', { window: 'HOUR', groupBy: ['API_KEY'], rateCard: onDay, to: new Date(T0 + 3 * 24 * HOUR) }, 'base'],
      ['days by key from 01:00 (the first, partial day from the base table)', { groupBy: ['API_KEY'], rateCard: onDay, from: new Date(T0 + HOUR) }, 'daily'],
      ['days by project from half past (not the hourly rollup: the daily one and the base table)', { groupBy: ['PROJECT'], rateCard: onDay, from: new Date(T0 + HOUR / 2) }, 'daily'],
      ['Kolkata days (half-hour offset)', { timeZone: 'Asia/Kolkata' }, 'base'],
      ['a price change at 17:30', { rateCard: `off-hour-${tenant}` }, 'base'],
      ['grouped by project, a price change at 17:00', { groupBy: ['PROJECT'] }, 'hourly'],
      ['filtered by user, a price change at 17:00', { filter: { userIds: ['u1'] } }, 'hourly'],
      ['grouped by key, a price change at 17:00', { groupBy: ['API_KEY'] }, 'base'],
      ['minutes', { window: 'MINUTE', to: new Date(T0 + 24 * HOUR) }, 'base'],
      ['from at half past', { from: new Date(T0 + HOUR / 2) }, 'base'],
    ]
    await expectPaths(t, db, tenant, args, cases)
  })

  await t.test('hourly data serves zones off the hour from the hourly rollup, until a bucket starts off the hour', async (t) => {
    const tenant = (await tenantWithKey(app)).tenantId
    // Every bucket starts on a whole UTC hour, as OpenAI's and Anthropic's 1h buckets do.
    const hourly = buckets(21, 500).map((b) => {
      const start = new Date(Math.floor(b.start.getTime() / HOUR) * HOUR)
      return { ...b, start, end: new Date(start.getTime() + HOUR) }
    })
    await seedBuckets(db, tenant, hourly)
    await seedResources(db, tenant, resources(22, 100))
    const base = { model: 'gpt-5*', recordedAt: new Date('2025-01-01T00:00:00Z'), effectiveFrom: new Date('2025-01-01T00:00:00Z'), prices: { input: '1.25', cached_input: '0.125', output: '10' } }
    const any = { ...base, model: '*', prices: {}, unitPrices: UNIT_PRICES }
    // A price change at 17:30 UTC (23:00 in Kolkata): off the hour and off every local midnight.
    await seedCard(db, `half-${tenant}`, [base, { ...base, effectiveFrom: new Date('2025-10-29T17:30:00Z'), prices: { input: '0.75', cached_input: '0.075', output: '6' } }, any])
    const args = (over: Partial<UsageArgs> = {}): UsageArgs => ({
      tenantId: tenant,
      from: new Date(T0),
      to: new Date(T0 + 14 * 24 * HOUR),
      window: 'DAY',
      timeZone: 'Asia/Kolkata',
      groupBy: ['MODEL'],
      groupByLabels: [],
      filter: {},
      rateCard: `half-${tenant}`,
      first: 1000,
      pricingAsOf: new Date('2026-01-01T00:00:00Z'),
      ...over,
    })
    const kolkataMidnight = new Date(T0 - 5.5 * HOUR)
    const cases = (offHour: Path): Case[] => [
      ['Kolkata days by model', {}, offHour],
      ['Kolkata hours by model', { window: 'HOUR', to: new Date(T0 + 5 * 24 * HOUR) }, offHour],
      ['Kolkata months by model and tier', { window: 'MONTH', groupBy: ['MODEL', 'SERVICE_TIER'] }, offHour],
      ['Kolkata days from local midnight (range off the hour)', { from: kolkataMidnight, to: new Date(kolkataMidnight.getTime() + 7 * 24 * HOUR) }, offHour],
      ['Kathmandu days by provider (+05:45)', { timeZone: 'Asia/Kathmandu', groupBy: ['PROVIDER'] }, offHour],
      ["St John's hours (-03:30, across DST)", { timeZone: 'America/St_Johns', window: 'HOUR', from: new Date(T0 + 4 * 24 * HOUR), to: new Date(T0 + 11 * 24 * HOUR) }, offHour],
      ['New York days across DST, modality', { timeZone: 'America/New_York', groupBy: ['MODALITY'] }, offHour],
      ['UTC minutes', { timeZone: 'UTC', window: 'MINUTE', from: new Date(T0 + 4 * 24 * HOUR + 1800_000), to: new Date(T0 + 5 * 24 * HOUR) }, offHour],
      ['Kolkata weeks by resource', { window: 'WEEK', groupBy: ['RESOURCE'] }, offHour],
      ['Kolkata days by project and user', { groupBy: ['PROJECT', 'USER'] }, offHour],
      ['Kolkata hours by project', { window: 'HOUR', groupBy: ['PROJECT'], to: new Date(T0 + 5 * 24 * HOUR) }, offHour],
      ['Kolkata days by key (the hourly rollup has none)', { groupBy: ['API_KEY'] }, 'base'],
    ]
    t.same(...(await rollupVsBase(db)), 'the rollup holds no off-hour bucket')
    await expectPaths(t, db, tenant, args, cases('hourly'))

    // One bucket at 10:05 on day 4 (every range above covers it): each falls back to the base table …
    const stray = { ...hourly[0]!, apiKeyId: 'stray', start: new Date(T0 + 4 * 24 * HOUR + 10 * HOUR + 300_000), end: new Date(T0 + 4 * 24 * HOUR + 11 * HOUR) }
    await seedBuckets(db, tenant, [stray])
    await expectPaths(t, db, tenant, args, cases('base'))
    // … and a range that ends before it keeps the rollup.
    await expectPaths(t, db, tenant, args, [['Kolkata days before the stray bucket', { to: new Date(T0 + 4 * 24 * HOUR) }, 'hourly']])
    await db.query(sql`delete from usage_buckets where tenant_id = ${tenant} and api_key_id = 'stray'`)
    await expectPaths(t, db, tenant, args, cases('hourly').slice(0, 2))
  })

  await t.test('GraphQL answers from the rollup match the base table through the API too', async (t) => {
    const { tenantId: tn, key: k } = await tenantWithKey(app)
    await seedBuckets(db, tn, buckets(5, 200))
    const q = async () => {
      const res = await app.inject({
        method: 'POST', url: '/graphql', headers: bearer(k),
        payload: { query: `{ usage(from: "2025-10-25T00:00:00Z", to: "2025-11-08T00:00:00Z", window: DAY, groupBy: [MODEL], first: 1000) { rows { windowStart model requests inputTokens cost { total unpricedTokens } } totals { requests cost { total } } } }` },
      })
      return res.json() as { data: { usage: { rows: unknown[]; totals: unknown } } }
    }
    const viaApi = await q()
    const viaBase = await queryUsagePage(db, {
      tenantId: tn, from: new Date('2025-10-25T00:00:00Z'), to: new Date('2025-11-08T00:00:00Z'), window: 'DAY', timeZone: 'UTC',
      groupBy: ['MODEL'], groupByLabels: [], filter: {}, rateCard: 'default', first: 1000, rollups: false,
    }, { maxGroups: 100_000 })
    t.equal(viaApi.data.usage.rows.length, viaBase.rows.length)
    t.same(
      (viaApi.data.usage.totals as { requests: number | null }).requests,
      viaBase.totals.requests,
      'unknown request counts stay unknown, known ones sum',
    )
  })
})

type Path = 'hourly' | 'daily' | 'base'
type Case = [name: string, over: Partial<UsageArgs>, path: Path]

/**
 * Each case gives the base table's rows and totals, is not vacuous, and reads the relation it names:
 * each rollup (not the base table) is skewed by its own amount to see who notices, then restored.
 */
async function expectPaths(t: Test, db: DbClient, tenant: string, args: (over?: Partial<UsageArgs>) => UsageArgs, cases: Case[]): Promise<void> {
  const run = (a: UsageArgs) => queryUsagePage(db, a, { maxGroups: 100_000 })
  const before = new Map<string, unknown>()
  for (const [name, over] of cases) {
    const viaRollup = await run(args(over))
    const viaBase = await run(args({ ...over, rollups: false }))
    t.same(viaRollup.rows, viaBase.rows, `${name}: same rows as the base table`)
    t.same(viaRollup.totals, viaBase.totals, `${name}: same totals as the base table`)
    t.ok(viaBase.rows.length > 0 && viaBase.totals.cost.total !== '0', `${name}: not vacuous (rows and priced cost)`)
    before.set(name, viaRollup.totals.inputTokens)
  }
  const skew = async (sign: number) => {
    await db.query(sql`update usage_bucket_hourly set input_tokens = input_tokens + ${sign * 1000}, in_text = in_text + ${sign * 1000}
      where tenant_id = ${tenant}`)
    await db.query(sql`update usage_bucket_daily set input_tokens = input_tokens + ${sign * 1_000_000}, in_text = in_text + ${sign * 1_000_000}
      where tenant_id = ${tenant}`)
  }
  await skew(1)
  for (const [name, over, path] of cases) {
    const now = (await run(args(over))).totals.inputTokens
    const amount = path === 'hourly' ? 1000 : 1_000_000
    const rolled = path === 'base' ? before.get(name) : (before.get(name) as number) + amount * (await rowsInScope(db, tenant, args(over), path))
    t.equal(now, rolled, `${name}: reads ${path === 'base' ? 'usage_buckets' : `the ${path} rollup`}`)
    if (path !== 'base') t.not(now, before.get(name), `${name}: the skew is visible`)
  }
  await skew(-1)
}

/** How many rollup rows of the tenant a query's range and filters cover (what the skew adds up to). */
async function rowsInScope(db: DbClient, tenant: string, a: UsageArgs, path: 'hourly' | 'daily'): Promise<number> {
  const f = a.filter
  const [table, time] = path === 'hourly' ? [sql`usage_bucket_hourly`, sql`hour`] : [sql`usage_bucket_daily`, sql`day`]
  const list = (column: string, values: string[] | undefined) =>
    values?.length ? sql` and ${sql.raw(column)} = any(${sql.param(values)}::text[])` : sql``
  const [row] = await db.query<{ n: number }>(sql`select count(*)::int8 as n from ${table}
    where tenant_id = ${tenant} and ${time} >= ${a.from.toISOString()}::timestamptz and ${time} < ${a.to.toISOString()}::timestamptz
      ${list('project_id', f.projectIds)}${list('user_id', f.userIds)}${list('api_key_id', f.apiKeyIds)}
      and source = any(${sql.param(f.sources ?? ['anthropic_api', 'api', 'openai_api', 'openai_csv'])}::text[])
      and (${sql.param(f.models ?? null)}::text[] is null or model = any(${sql.param(f.models ?? null)}::text[]))
      and (${f.batch ?? null}::bool is null or coalesce(batch, false) = ${f.batch ?? null}::bool)
      and (${sql.param(f.contextTiers ?? null)}::text[] is null or context_tier = any(${sql.param(f.contextTiers ?? null)}::text[]))`)
  return row!.n
}
