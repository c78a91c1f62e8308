import t from 'tap'
import type { BilledRow } from '../../src/billing/billed-row.js'
import type { DbClient } from '../../src/db/client.js'
import { migrate } from '../../src/db/migrate.js'
import { maintainPartitions } from '../../src/db/partitions.js'
import { serverKeyOf, storeBilled, storedBilled } from '../factories/billed-stored.js'
import { seedResources } from '../factories/resources.js'
import { dailyVsBase, rollupVsBase } from '../factories/rollups.js'
import { seedBuckets, type SeedBucket } from '../factories/usage.js'
import { eachEngine } from '../helpers.js'
import { emptyDb, migrationsBefore } from '../setup/migration-dbs.js'

/**
 * Migration 0018 (service tiers folded as every entry point now folds them) on a database that holds rows
 * stored under the tier text as sent: capitals folded, `Standard`/`Auto` → `default`, `Batch` → the batch flag,
 * a row that folds onto another's natural key keeps the later report, the rollups follow, and a billed cost's
 * key is the one the server computes for the folded row (or a re-upload would sit beside it).
 */

const H = 3_600_000
const T0 = Date.parse('2026-03-02T00:00:00Z')
const at = (h: number) => new Date(T0 + h * H)
const bucket = (h: number, serviceTier: string, inText: number, over: Partial<SeedBucket> = {}): SeedBucket =>
  ({ start: at(h), end: at(h + 1), provider: 'openai', accountId: 'org-1', projectId: 'proj', model: 'gpt-5', serviceTier, inText, outText: 1, ...over })

async function setUpdated(db: DbClient, table: string, tier: string, iso: string, hour?: number): Promise<void> {
  if (hour === undefined) await db.query(`update ${table} set updated_at = $1::timestamptz where service_tier = $2`, [iso, tier])
  else await db.query(`update ${table} set updated_at = $1::timestamptz where service_tier = $2 and start_time = $3`, [iso, tier, at(hour).toISOString()])
}

const billed = (serviceTier: string, over: Partial<BilledRow> = {}): BilledRow => ({
  startMs: T0, endMs: T0 + 24 * H, provider: 'openai', accountId: 'org-1', projectId: 'proj', userId: null, apiKeyId: null,
  model: 'gpt-5', serviceTier, batch: null, contextTier: null, inferenceGeo: null, present: 0,
  lineItem: 'gpt-5, input', tokenType: null, costType: null, amount: '0', currency: 'USD', quantity: null, quantityUnit: null, ...over,
})

void t.test('migration 0018 folds stored service tiers and keeps one row per folded key', (t) =>
  eachEngine(t, async (t, engine) => {
    const db = await emptyDb(t, engine, 'tiercase')
    await migrate(db, migrationsBefore(t, '_service_tier_case'))
    await maintainPartitions(db, { monthsAhead: 2 }, new Date(T0))

    // Hour 0: `Default` is the later of one report under two spellings → it stays, folded. Hour 1: `default`
    // is the later. Hour 2: `Standard` and `AUTO` are `default`, `AUTO` the latest. Hour 3: `Batch` is the batch
    // flag and meets the stored batch row of `default`. Hour 4: `Flex` alone. Hour 5: `flex` and `PRIORITY` stay
    // apart; `Priorité` keeps its non-ASCII letter (only ASCII capitals fold, at every entry point). Another
    // tenant's `Default` never meets acme's rows.
    await seedBuckets(db, 'acme', [
      bucket(0, 'default', 10), bucket(0, 'Default', 11),
      bucket(1, 'default', 20), bucket(1, 'Default', 21),
      bucket(2, 'default', 30), bucket(2, 'Standard', 31), bucket(2, 'AUTO', 32),
      bucket(3, 'default', 40, { batch: true }), bucket(3, 'Batch', 41, { batch: null }),
      bucket(4, 'Flex', 50),
      bucket(5, 'flex', 60), bucket(5, 'PRIORITY', 61), bucket(5, 'Priorité', 62),
    ])
    await seedBuckets(db, 'beta', [bucket(0, 'Default', 70)])
    await setUpdated(db, 'usage_buckets', 'default', '2026-03-05T00:00:00Z')
    await setUpdated(db, 'usage_buckets', 'Default', '2026-03-06T00:00:00Z', 0)
    await setUpdated(db, 'usage_buckets', 'Default', '2026-03-04T00:00:00Z', 1)
    await setUpdated(db, 'usage_buckets', 'Standard', '2026-03-06T00:00:00Z')
    await setUpdated(db, 'usage_buckets', 'AUTO', '2026-03-07T00:00:00Z')
    await setUpdated(db, 'usage_buckets', 'Batch', '2026-03-06T00:00:00Z')

    const image = { start: at(0), end: at(1), accountId: 'org-1', model: 'gpt-image-1', resource: 'images', attributes: { size: '1024x1024' } }
    await seedResources(db, 'acme', [
      { ...image, serviceTier: 'default', quantity: '3' },
      { ...image, serviceTier: 'Default', quantity: '4' },
      { ...image, serviceTier: 'Flex', quantity: '5' },
    ])
    await setUpdated(db, 'usage_resources', 'default', '2026-03-05T00:00:00Z')
    await setUpdated(db, 'usage_resources', 'Default', '2026-03-06T00:00:00Z')

    const odd = { lineItem: 'gpt-5, "input"\\ \n\t\u0001 é 😀', projectId: 'proj "x"' }
    await storeBilled(db, 'acme', billed('default'), '1.50')
    await storeBilled(db, 'acme', billed('Default'), '1.75')
    await storeBilled(db, 'acme', billed('Batch', { ...odd, contextTier: '200k-1M' }), '2.25')
    await storeBilled(db, 'acme', billed('Priority', { ...odd, batch: false, apiKeyId: 'key_1' }), '3.00')
    await setUpdated(db, 'billed_costs', 'default', '2026-03-06T00:00:00Z')
    await setUpdated(db, 'billed_costs', 'Default', '2026-03-05T00:00:00Z')

    const applied = await migrate(db)
    t.match(applied, [/_service_tier_case$/], 'migration 0018 was pending')

    const rows = await db.query<{ tenant_id: string; service_tier: string; batch: boolean | null; hour: number; in_text: number }>(`select tenant_id,
        service_tier, batch, (extract(epoch from start_time - $1::timestamptz) / 3600)::int as hour, in_text from usage_buckets order by 1, 4, 5`,
    [new Date(T0).toISOString()])
    t.same(rows, [
      { tenant_id: 'acme', service_tier: 'default', batch: null, hour: 0, in_text: 11 },
      { tenant_id: 'acme', service_tier: 'default', batch: null, hour: 1, in_text: 20 },
      { tenant_id: 'acme', service_tier: 'default', batch: null, hour: 2, in_text: 32 },
      { tenant_id: 'acme', service_tier: 'default', batch: true, hour: 3, in_text: 41 },
      { tenant_id: 'acme', service_tier: 'flex', batch: null, hour: 4, in_text: 50 },
      { tenant_id: 'acme', service_tier: 'flex', batch: null, hour: 5, in_text: 60 },
      { tenant_id: 'acme', service_tier: 'priority', batch: null, hour: 5, in_text: 61 },
      { tenant_id: 'acme', service_tier: 'priorité', batch: null, hour: 5, in_text: 62 },
      { tenant_id: 'beta', service_tier: 'default', batch: null, hour: 0, in_text: 70 },
    ], 'one bucket per folded key, the later report of each; standard/auto are default, batch is the flag')
    t.same(...(await rollupVsBase(db)), 'the hourly rollup equals the grouped buckets')
    t.same(...(await dailyVsBase(db)), 'the daily rollup equals the grouped buckets')

    const resources = await db.query(`select service_tier, quantity::text as quantity from usage_resources order by 2`)
    t.same(resources, [{ service_tier: 'default', quantity: '4' }, { service_tier: 'flex', quantity: '5' }],
      'resources: the later report of the key stays; another tier is another key')

    const costs = await storedBilled(db)
    t.same(costs.map((c) => [c.service_tier, c.batch, c.amount]), [['default', null, '1.50'], ['default', true, '2.25'], ['priority', false, '3.00']],
      'billed: the later of the two spellings stays; Batch is the flag')
    for (const c of costs) t.same(Buffer.from(c.key_hash), serverKeyOf(c), `billed ${c.amount}: the key is the server's key of the folded row`)

    await t.rejects(seedBuckets(db, 'acme', [bucket(4, 'flex', 51)]), { code: '23505' }, 'a folded bucket meets the stored one on its natural key')
  }),
)
