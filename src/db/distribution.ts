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
  return layout
}

/** The Citus calls that distribute this schema, reference tables first (distributed ones may refer to them). */
export function citusStatements(layout: TableLayout): string[] {
  return [
    ...layout.reference.map((t) => `SELECT create_reference_table('${t}');`),
    ...layout.distributed.map((t) => `SELECT create_distributed_table('${t}', '${DISTRIBUTION_COLUMN}');`),
  ]
}
