import { readFileSync } from 'node:fs'
import t from 'tap'
import { citusStatements, DISTRIBUTION_COLUMN, tableLayout } from '../../src/db/distribution.js'
import { eachEngine, freshDb } from '../helpers.js'

/**
 * The Citus-readiness rules, read from the live catalog of a migrated database (Citus itself cannot be
 * installed here, so the rules are checked instead): every primary key, unique index and foreign key
 * of a distributed table leads with tenant_id; reference tables never point at distributed ones; every
 * table is classified; docs/scale-out.md lists exactly the calls for the current schema.
 */

interface KeyRow {
  table_name: string
  name: string
  kind: string
  first_column: string | null
  referenced_table: string | null
  referenced_first_column: string | null
}

const KEYS_SQL = `
  select c.relname as table_name, i.relname as name, case when x.indisprimary then 'primary key' else 'unique index' end as kind,
    (select a.attname from pg_attribute a where a.attrelid = c.oid and a.attnum = x.indkey[0]) as first_column,
    null as referenced_table, null as referenced_first_column
  from pg_index x join pg_class c on c.oid = x.indrelid join pg_class i on i.oid = x.indexrelid
  join pg_namespace n on n.oid = c.relnamespace
  where n.nspname = 'public' and x.indisunique and not c.relispartition
  union all
  select c.relname, k.conname, 'foreign key',
    (select a.attname from pg_attribute a where a.attrelid = k.conrelid and a.attnum = k.conkey[1]),
    f.relname, (select a.attname from pg_attribute a where a.attrelid = k.confrelid and a.attnum = k.confkey[1])
  from pg_constraint k join pg_class c on c.oid = k.conrelid join pg_class f on f.oid = k.confrelid
  join pg_namespace n on n.oid = c.relnamespace
  where n.nspname = 'public' and k.contype = 'f' and not c.relispartition`

void t.test('the schema follows the rules that let Citus distribute it by tenant', (t) =>
  eachEngine(t, async (t, engine) => {
    const db = await freshDb(t, engine)
    const layout = await tableLayout(db)
    t.same(layout.unclassified, [], 'every table without tenant_id is a reference or local table (src/db/distribution.ts)')
    t.ok(layout.distributed.includes('usage_buckets'), 'usage tables are distributed')

    const distributed = new Set(layout.distributed)
    const reference = new Set(layout.reference)
    const keys = await db.query<KeyRow>(KEYS_SQL)
    for (const k of keys) {
      if (distributed.has(k.table_name)) {
        t.equal(k.first_column, DISTRIBUTION_COLUMN, `${k.kind} ${k.name} of distributed table ${k.table_name} leads with ${DISTRIBUTION_COLUMN}`)
        if (k.kind === 'foreign key' && k.referenced_table && distributed.has(k.referenced_table))
          t.equal(k.referenced_first_column, DISTRIBUTION_COLUMN, `${k.name} refers to ${k.referenced_table} by ${DISTRIBUTION_COLUMN}`)
      } else if (reference.has(k.table_name) && k.kind === 'foreign key') {
        t.ok(k.referenced_table && reference.has(k.referenced_table), `${k.name}: reference table ${k.table_name} refers only to reference tables`)
      }
    }

    const doc = readFileSync(new URL('../../docs/scale-out.md', import.meta.url), 'utf8')
    for (const statement of citusStatements(layout)) t.ok(doc.includes(statement), `docs/scale-out.md lists ${statement}`)
  }),
)
