import type { Db } from './client.js'

/**
 * How the schema distributes by tenant (Citus): small shared tables are *reference* tables, copied to
 * every node; every other table that holds tenant data is *distributed* by `tenant_id`, so one tenant's
 * rows live together and every unique key can be enforced on one node. docs/scale-out.md lists the
 * exact calls; test/db/distribution.test.ts reads the catalog and fails on any table or key that
 * breaks these rules, so a new table must be classified here.
 */
const REFERENCE_TABLES = ['tenants', 'admin_tokens', 'api_keys', 'rate_cards', 'rates', 'rollup_time_zones'] as const

/** Tables that stay on the coordinator and are never distributed (bookkeeping, not tenant data). */
const LOCAL_TABLES = ['tokenledger_migrations'] as const

export const DISTRIBUTION_COLUMN = 'tenant_id'

export interface TableLayout {
  reference: string[]
  distributed: string[]
}

/** Classifies the live schema's tables: distributed = has tenant_id and is not a reference table. */
export async function tableLayout(db: Db): Promise<TableLayout & { unclassified: string[] }> {
  const rows = await db.query<{ table_name: string; has_tenant: boolean }>(
    `select c.relname as table_name,
       exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = $1 and not a.attisdropped) as has_tenant
     from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = 'public' and c.relkind in ('r', 'p') and not c.relispartition
     order by c.relname`,
    [DISTRIBUTION_COLUMN],
  )
  const reference = new Set<string>(REFERENCE_TABLES)
  const local = new Set<string>(LOCAL_TABLES)
  const layout = { reference: [] as string[], distributed: [] as string[], unclassified: [] as string[] }
  for (const r of rows) {
    if (reference.has(r.table_name)) continue
    else if (local.has(r.table_name)) continue
    else if (r.has_tenant) layout.distributed.push(r.table_name)
    else layout.unclassified.push(r.table_name)
  }
  // In declaration order, which puts every referenced table before the tables that refer to it
  // (Citus refuses a reference table whose foreign key points at a table not yet distributed).
  const present = new Set(rows.map((r) => r.table_name))
  layout.reference = REFERENCE_TABLES.filter((t) => present.has(t))
  layout.distributed = referencedFirst(layout.distributed, await foreignKeys(db))
  return layout
}

/** Each table's foreign keys as referencing → referenced table names (a partition's clones left out). */
async function foreignKeys(db: Db): Promise<Map<string, string[]>> {
  const rows = await db.query<{ from_table: string; to_table: string }>(
    `select c.relname as from_table, f.relname as to_table
     from pg_constraint k join pg_class c on c.oid = k.conrelid join pg_class f on f.oid = k.confrelid
     join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = 'public' and k.contype = 'f' and k.conparentid = 0 and c.oid <> f.oid
     order by 1, 2`,
  )
  const refs = new Map<string, string[]>()
  for (const r of rows) refs.set(r.from_table, [...(refs.get(r.from_table) ?? []), r.to_table])
  return refs
}

/**
 * `tables` in name order, except that each comes after the tables of the list its foreign keys point at:
 * Citus distributes a table whose foreign key points at another only once that one is distributed. In
 * plain name order budget_alert_deliveries came before budget_alerts, and budget_alerts before budgets.
 */
function referencedFirst(tables: string[], refs: Map<string, string[]>): string[] {
  const listed = new Set(tables)
  const order: string[] = []
  const placed = new Set<string>()
  const place = (table: string) => {
    if (placed.has(table)) return
    placed.add(table)
    for (const to of refs.get(table) ?? []) if (listed.has(to)) place(to)
    order.push(table)
  }
  for (const table of [...tables].sort()) place(table)
  return order
}

/** The Citus calls that distribute this schema, reference tables first (distributed ones may refer to them). */
export function citusStatements(layout: TableLayout): string[] {
  return [
    ...layout.reference.map((t) => `SELECT create_reference_table('${t}');`),
    ...layout.distributed.map((t) => `SELECT create_distributed_table('${t}', '${DISTRIBUTION_COLUMN}');`),
  ]
}
