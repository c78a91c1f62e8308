import t from 'tap'
import { migrate } from '../../src/db/migrate.js'
import { eachEngine } from '../helpers.js'
import { emptyDb, migrationsBefore } from '../setup/migration-dbs.js'

/**
 * Migration 0020: rates stamped to the microsecond before the writer kept milliseconds are truncated to the
 * millisecond the API showed for them, so pricingAsOf at that instant includes them (test/pricing/as-of-recorded-at.test.ts
 * covers rates written from now on).
 */
void t.test('migration 0020 truncates stored recorded_at to the millisecond', (t) =>
  eachEngine(t, async (t, engine) => {
    const db = await emptyDb(t, engine, 'ratesms')
    await migrate(db, migrationsBefore(t, '_rates_recorded_ms'))
    const [card] = await db.query<{ id: number }>(`insert into rate_cards (name) values ('old') returning id`)
    const stamps = ['2026-03-02 10:00:00.123456+00', '2026-03-02 10:00:00.999999+00', '2026-03-02 10:00:01+00']
    for (const [i, at] of stamps.entries())
      await db.query(`insert into rates (card_id, provider, model, service_tier, batch, effective_from, input, recorded_at)
        values ($1, 'openai', $2, 'default', false, '2025-01-01T00:00:00Z', 1, $3::timestamptz)`, [card!.id, `m${i}`, at])

    t.match(await migrate(db), [/_rates_recorded_ms$/], 'migration 0020 was pending')
    const rows = await db.query<{ model: string; at: string }>(`select model, to_char(recorded_at at time zone 'UTC', 'HH24:MI:SS.US') as at from rates order by model`)
    t.same(rows, [{ model: 'm0', at: '10:00:00.123000' }, { model: 'm1', at: '10:00:00.999000' }, { model: 'm2', at: '10:00:01.000000' }],
      'each stamp is the millisecond it was shown as')
    const asOf = await db.query<{ n: number }>(`select count(*)::int as n from rates where recorded_at <= '2026-03-02T10:00:00.123Z'::timestamptz`)
    t.equal(asOf[0]!.n, 1, 'as of the shown instant, the rate counts as recorded')
  }),
)
