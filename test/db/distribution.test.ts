import { readFileSync } from 'node:fs'
import t from 'tap'
import { citusStatements, DISTRIBUTION_COLUMN, tableLayout } from '../../src/db/distribution.js'
import { maintainPartitions, PARTITIONED_TABLES } from '../../src/db/partitions.js'
import { eachEngine, freshDb } from '../helpers.js'

/**
 * The Citus-readiness rules, read from the live catalog of a migrated database (Citus itself cannot be
 * installed here, so the rules are checked instead): every primary key, unique index and foreign key
 * of a distributed table leads with tenant_id; reference tables never point at distributed ones; every
 * table is classified; docs/scale-out.md lists exactly the calls for the current schema. Partitions
 * are checked too, under the table they belong to: their keys are what each node enforces.
 */

interface KeyRow {
  /** The table, or for a partition the partitioned table it belongs to (what Citus distributes). */
  table_name: string
  relation: string
  name: string
  kind: string
  first_column: string | null
  referenced_table: string | null
  referenced_first_column: string | null
}

// A partition's keys count under its root table: Citus distributes the root and, with it, every partition.
const ROOT = (oid: string) => `coalesce((select r.relname from pg_class r where r.oid = pg_partition_root(${oid})), (select r.relname from pg_class r where r.oid = ${oid}))`

const KEYS_SQL = `
  select ${ROOT('c.oid')} as table_name, c.relname as relation, i.relname as name,
    case when x.indisprimary then 'primary key' else 'unique index' end as kind,
    (select a.attname from pg_attribute a where a.attrelid = c.oid and a.attnum = x.indkey[0]) as first_column,
    null as referenced_table, null as referenced_first_column
  from pg_index x join pg_class c on c.oid = x.indrelid join pg_class i on i.oid = x.indexrelid
  join pg_namespace n on n.oid = c.relnamespace
  where n.nspname = 'public' and x.indisunique
  union all
  select ${ROOT('c.oid')}, c.relname, k.conname, 'foreign key',
    (select a.attname from pg_attribute a where a.attrelid = k.conrelid and a.attnum = k.conkey[1]),
    ${ROOT('f.oid')}, (select a.attname from pg_attribute a where a.attrelid = k.confrelid and a.attnum = k.confkey[1])
  from pg_constraint k join pg_class c on c.oid = k.conrelid join pg_class f on f.oid = k.confrelid
  join pg_namespace n on n.oid = c.relnamespace
  where n.nspname = 'public' and k.contype = 'f'`

/** Each partitioned table: its partition key, its partitions, and whether one is the default. */
const PARTITIONED_SQL = `
  select c.relname as table_name,
    (select string_agg(a.attname, ',' order by a.attnum) from pg_attribute a where a.attrelid = c.oid and a.attnum = any(p.partattrs)) as partition_key,
    p.partstrat as strategy,
    (select count(*) from pg_inherits i where i.inhparent = c.oid)::int8 as partitions,
    (select count(*) from pg_inherits i join pg_partitioned_table pp on pp.partrelid = c.oid where i.inhparent = c.oid and i.inhrelid = pp.partdefid)::int8 as defaults
  from pg_partitioned_table p join pg_class c on c.oid = p.partrelid join pg_namespace n on n.oid = c.relnamespace
  where n.nspname = 'public' order by c.relname`

/** Unique keys of partitioned tables and their partitions that leave out the partition key. */
const UNIQUE_WITHOUT_PARTITION_KEY_SQL = `
  select c.relname as relation, i.relname as name
  from pg_index x join pg_class c on c.oid = x.indrelid join pg_class i on i.oid = x.indexrelid
  join pg_partitioned_table p on p.partrelid = coalesce(pg_partition_root(c.oid), c.oid)
  where x.indisunique and exists (
    -- by name: a partition's column numbers may differ from its root's
    select 1 from pg_attribute pa where pa.attrelid = p.partrelid and pa.attnum = any(p.partattrs)
      and pa.attname not in (select a.attname from pg_attribute a where a.attrelid = c.oid and a.attnum = any(x.indkey)))`

void t.test('the schema follows the rules that let Citus distribute it by tenant', (t) =>
  eachEngine(t, async (t, engine) => {
    const db = await freshDb(t, engine)
    // Month partitions as the server creates them, so their keys are checked too (not only the defaults).
    await maintainPartitions(db, { monthsAhead: 1 })
    const layout = await tableLayout(db)
    t.same(layout.unclassified, [], 'every table without tenant_id is a reference or local table (src/db/distribution.ts)')
    t.ok(layout.distributed.includes('usage_buckets'), 'usage tables are distributed')

    const distributed = new Set(layout.distributed)
    const reference = new Set(layout.reference)
    const keys = await db.query<KeyRow>(KEYS_SQL)
    for (const k of keys) {
      if (distributed.has(k.table_name)) {
        const where = k.relation === k.table_name ? `distributed table ${k.table_name}` : `partition ${k.relation} of ${k.table_name}`
        t.equal(k.first_column, DISTRIBUTION_COLUMN, `${k.kind} ${k.name} of ${where} leads with ${DISTRIBUTION_COLUMN}`)
        if (k.kind === 'foreign key' && k.referenced_table && distributed.has(k.referenced_table))
          t.equal(k.referenced_first_column, DISTRIBUTION_COLUMN, `${k.name} refers to ${k.referenced_table} by ${DISTRIBUTION_COLUMN}`)
      } else if (reference.has(k.table_name) && k.kind === 'foreign key') {
        t.ok(k.referenced_table && reference.has(k.referenced_table), `${k.name}: reference table ${k.table_name} refers only to reference tables`)
      }
    }

    const partitioned = await db.query<{ table_name: string; partition_key: string; strategy: string; partitions: number; defaults: number }>(PARTITIONED_SQL)
    t.same(
      partitioned.map((p) => [p.table_name, p.partition_key, p.strategy]),
      [...PARTITIONED_TABLES].sort((a, b) => a.table.localeCompare(b.table)).map((p) => [p.table, p.column, 'r']),
      'exactly the tables src/db/partitions.ts maintains are range-partitioned, on the column it names',
    )
    for (const p of partitioned) {
      t.ok(distributed.has(p.table_name), `partitioned ${p.table_name} is distributed by ${DISTRIBUTION_COLUMN} (its partitions with it)`)
      t.equal(p.defaults, 1, `${p.table_name} has a default partition, so no write fails for lack of a month`)
    }
    // On PGlite and PostgreSQL the attach would fail anyway; this names the table if a migration tries.
    t.same(await db.query(UNIQUE_WITHOUT_PARTITION_KEY_SQL), [], 'every unique key of a partitioned table contains its partition key')

    // Citus distributes a table whose foreign key points at another only after that one: every referenced
    // table's call comes first. Read from the catalog, not from the module's own ordering.
    const statements = citusStatements(layout)
    const position = (table: string) => statements.findIndex((s) => s.includes(`('${table}'`))
    for (const k of keys) {
      if (k.kind !== 'foreign key' || !k.referenced_table || k.referenced_table === k.table_name) continue
      t.ok(position(k.referenced_table) < position(k.table_name), `${k.referenced_table} is distributed before ${k.table_name} (${k.name})`)
    }
    // Exactly these calls, in this order: a stale table or a reordered line in the docs fails too.
    const doc = readFileSync(new URL('../../docs/scale-out.md', import.meta.url), 'utf8')
    t.same(doc.match(/^SELECT create_(reference|distributed)_table\(.*\);$/gm), statements, 'docs/scale-out.md lists exactly these calls, in order')
  }),
)
