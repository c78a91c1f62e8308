import { getTableColumns } from 'drizzle-orm'
import t from 'tap'
import { usageBucketHourly, usageBuckets, usageEventRollups, usageEvents } from '../../src/db/schema.js'
import { TOKEN_CLASS_KEYS } from '../../src/ingest/token-classes.js'
import { PRICED_CLASSES, TOKEN_COUNTERS } from '../../src/db/token-columns.js'
import { eachEngine, freshDb } from '../helpers.js'

/**
 * The token-class table (src/db/token-columns.ts TOKEN_COUNTERS) is the one list of counters. Code
 * is generated from it; what cannot be — the drizzle schema (its types need literal columns) and the
 * migrations (immutable once applied) — is checked here against it, the migrations through the live
 * catalog: every table that stores token counters has all of them, and every trigger function that rolls
 * them up names each counter as often as it names the first one.
 */
const columns = TOKEN_COUNTERS.map((c) => c.column)
const word = (name: string) => new RegExp(`\\b${name}\\b`, 'g')

t.test('the table lists each counter once, the priced classes after the two totals', async (t) => {
  t.equal(new Set(columns).size, columns.length)
  t.equal(new Set(TOKEN_CLASS_KEYS).size, TOKEN_CLASS_KEYS.length)
  t.same(columns.slice(2), PRICED_CLASSES.map((c) => c.column))
  t.same(columns.slice(0, 2), ['input_tokens', 'output_tokens'])
})

t.test('every drizzle table with token counters maps each key to the table\'s column', async (t) => {
  for (const table of [usageBuckets, usageBucketHourly, usageEvents, usageEventRollups]) {
    const cols = getTableColumns(table) as Record<string, { name: string }>
    for (const { key, column } of TOKEN_COUNTERS) t.equal(cols[key]?.name, column, `${key} → ${column}`)
  }
})

void eachEngine(t, async (t, engine) => {
  const db = await freshDb(t, engine)

  t.test('every stored table with a token counter has all of them, as bigint', async (t) => {
    const rows = await db.query<{ table_name: string; column_name: string; data_type: string }>(
      `select c.table_name, c.column_name, c.data_type
         from information_schema.columns c join pg_class k on k.relname = c.table_name and not k.relispartition
        where c.table_schema = 'public' and c.table_name in (select table_name from information_schema.columns where column_name = 'in_text' and table_schema = 'public')`,
    )
    const tables = [...new Set(rows.map((r) => r.table_name))].sort()
    t.ok(tables.length >= 4, `token tables found: ${tables.join(', ')}`)
    for (const table of tables) {
      const have = new Map(rows.filter((r) => r.table_name === table).map((r) => [r.column_name, r.data_type]))
      for (const c of columns) t.equal(have.get(c), 'bigint', `${table}.${c}`)
    }
  })

  t.test('every trigger function over token counters names each counter as often as in_text', async (t) => {
    // Trigger functions, and the functions that build a trigger's statement (usage_bucket_daily_upsert_sql).
    const fns = await db.query<{ name: string; body: string }>(
      `select distinct p.proname as name, p.prosrc as body
         from pg_proc p
        where p.prosrc ~ '\\min_text\\M'
          and (p.oid in (select tgfoid from pg_trigger where not tgisinternal) or p.proname like 'usage\\_%\\_sql')`,
    )
    t.ok(fns.length >= 1, `rollup trigger functions found: ${fns.map((f) => f.name).join(', ')}`)
    for (const fn of fns) {
      const times = fn.body.match(word('in_text'))!.length
      for (const c of columns) t.equal(fn.body.match(word(c))?.length ?? 0, times, `${fn.name} names ${c}`)
    }
  })
})
