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
 * Migration 0016 (provider ids folded to lower case) on a database that holds rows stored under several
 * spellings, as every entry point allowed before: the ids are folded, a row that folds onto another's
 * natural key keeps the later report, names that are not ids stay as written, the rollups follow, and a
 * billed cost's key is the one the server computes for the folded row (or a re-upload would sit beside it).
 */

const H = 3_600_000
const T0 = Date.parse('2026-03-02T00:00:00Z')
const at = (h: number) => new Date(T0 + h * H)
const bucket = (h: number, provider: string, inText: number, over: Partial<SeedBucket> = {}): SeedBucket =>
  ({ start: at(h), end: at(h + 1), provider, accountId: 'org-1', projectId: 'proj', model: 'gpt-5', inText, outText: 1, ...over })

async function setUpdated(db: DbClient, table: string, provider: string, iso: string): Promise<void> {
  await db.query(`update ${table} set updated_at = $1::timestamptz where provider = $2`, [iso, provider])
}

const billed = (provider: string, over: Partial<BilledRow> = {}): BilledRow => ({
  startMs: T0, endMs: T0 + 24 * H, provider, accountId: 'org-1', projectId: 'proj', userId: null, apiKeyId: null,
  model: 'gpt-5', serviceTier: 'default', batch: null, contextTier: null, inferenceGeo: null, present: 0,
  lineItem: 'gpt-5, input', tokenType: null, costType: null, amount: '0', currency: 'USD', quantity: null, quantityUnit: null, ...over,
})

void t.test('migration 0016 folds stored provider ids and keeps one row per folded key', (t) =>
  eachEngine(t, async (t, engine) => {
    const db = await emptyDb(t, engine, 'providercase')
    await migrate(db, migrationsBefore(t, '_provider_case'))
    await maintainPartitions(db, { monthsAhead: 2 }, new Date(T0))

    // Buckets. Hour 0: one report under two spellings, `OpenAI` the later → it stays, folded. Hour 1: the
    // lower-case one is the later → it stays. Hour 2: three spellings, `OPENAI` the latest. Hour 3: only
    // `OpenAI`. `Open AI` is no id: left. Another tenant's `OpenAI` never meets acme's rows.
    await seedBuckets(db, 'acme', [
      bucket(0, 'openai', 10), bucket(0, 'OpenAI', 11),
      bucket(1, 'openai', 20), bucket(1, 'OpenAI', 21),
      bucket(2, 'openai', 30), bucket(2, 'OpenAI', 31), bucket(2, 'OPENAI', 32),
      bucket(3, 'OpenAI', 40),
      bucket(4, 'Open AI', 50),
      bucket(5, 'Azure.OpenAI_eu-1', 60),
    ])
    await seedBuckets(db, 'beta', [bucket(0, 'OpenAI', 70)])
    await setUpdated(db, 'usage_buckets', 'openai', '2026-03-05T00:00:00Z')
    await db.query(`update usage_buckets set updated_at = '2026-03-06T00:00:00Z' where provider = 'OpenAI' and start_time = $1`, [at(0).toISOString()])
    await db.query(`update usage_buckets set updated_at = '2026-03-04T00:00:00Z' where provider = 'OpenAI' and start_time = $1`, [at(1).toISOString()])
    await db.query(`update usage_buckets set updated_at = '2026-03-04T00:00:00Z' where provider = 'OpenAI' and start_time = $1`, [at(2).toISOString()])
    await setUpdated(db, 'usage_buckets', 'OPENAI', '2026-03-07T00:00:00Z')

    // Resources: the same rule, with the attributes in the key.
    const image = { start: at(0), end: at(1), accountId: 'org-1', model: 'gpt-image-1', resource: 'images', attributes: { size: '1024x1024' } }
    await seedResources(db, 'acme', [
      { ...image, provider: 'openai', quantity: '3' },
      { ...image, provider: 'OpenAI', quantity: '4' },
      { ...image, provider: 'OpenAI', quantity: '5', attributes: { size: '512x512' } },
    ])
    await setUpdated(db, 'usage_resources', 'openai', '2026-03-05T00:00:00Z')
    await setUpdated(db, 'usage_resources', 'OpenAI', '2026-03-06T00:00:00Z')

    // Billed costs, with texts JSON escapes (quote, backslash, control characters, non-ASCII) in the key.
    const odd = { lineItem: 'gpt-5, "input"\\ \n\t\u0001 é 😀', projectId: 'proj "x"' }
    await storeBilled(db, 'acme', billed('openai'), '1.50')
    await storeBilled(db, 'acme', billed('OpenAI'), '1.75')
    await storeBilled(db, 'acme', billed('Anthropic', { ...odd, batch: true, serviceTier: 'priority', contextTier: '200k-1M', tokenType: 'uncached_input_tokens' }), '2.25')
    await storeBilled(db, 'acme', billed('OpenAI', { ...odd, batch: false, apiKeyId: 'key_1' }), '3.00')
    await setUpdated(db, 'billed_costs', 'openai', '2026-03-06T00:00:00Z')
    await setUpdated(db, 'billed_costs', 'OpenAI', '2026-03-05T00:00:00Z')

    const applied = await migrate(db)
    t.match(applied, [/_provider_case$/], 'migration 0016 was pending')

    const rows = await db.query<{ tenant_id: string; provider: string; hour: number; in_text: number }>(`select tenant_id, provider,
        (extract(epoch from start_time - $1::timestamptz) / 3600)::int as hour, in_text from usage_buckets order by 1, 3, 2`, [new Date(T0).toISOString()])
    t.same(rows, [
      { tenant_id: 'acme', provider: 'openai', hour: 0, in_text: 11 },
      { tenant_id: 'acme', provider: 'openai', hour: 1, in_text: 20 },
      { tenant_id: 'acme', provider: 'openai', hour: 2, in_text: 32 },
      { tenant_id: 'acme', provider: 'openai', hour: 3, in_text: 40 },
      { tenant_id: 'acme', provider: 'Open AI', hour: 4, in_text: 50 },
      { tenant_id: 'acme', provider: 'azure.openai_eu-1', hour: 5, in_text: 60 },
      { tenant_id: 'beta', provider: 'openai', hour: 0, in_text: 70 },
    ], 'one bucket per folded key, the later report of each; a name that is no id kept')
    t.same(...(await rollupVsBase(db)), 'the hourly rollup equals the grouped buckets')
    t.same(...(await dailyVsBase(db)), 'the daily rollup equals the grouped buckets')

    const resources = await db.query(`select provider, attributes->>'size' as size, quantity::text as quantity from usage_resources order by 2`)
    t.same(resources, [
      { provider: 'openai', size: '1024x1024', quantity: '4' },
      { provider: 'openai', size: '512x512', quantity: '5' },
    ], 'resources: the later report of the key stays; another attribute is another key')

    const costs = await storedBilled(db)
    t.same(costs.map((c) => [c.provider, c.amount]), [['openai', '1.50'], ['anthropic', '2.25'], ['openai', '3.00']], 'billed: the later of the two spellings stays')
    for (const c of costs) t.same(Buffer.from(c.key_hash), serverKeyOf(c), `billed ${c.amount}: the key is the server's key of the folded row`)

    // The keys hold: the bucket of hour 3 stored again in lower case (as the server now stores it) is the stored one's key.
    await t.rejects(seedBuckets(db, 'acme', [bucket(3, 'openai', 41)]), { code: '23505' }, 'a folded bucket meets the stored one on its natural key')
  }),
)
