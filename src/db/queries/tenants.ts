import { and, eq, isNull, sql } from 'drizzle-orm'
import type { Db } from '../client.js'
import { inCodePointOrder, orm } from '../orm.js'
import { adminTokens, apiKeys, tenants } from '../schema.js'

export type Tenant = typeof tenants.$inferSelect
/** A key as listed: never its hash. */
export type ApiKey = Omit<typeof apiKeys.$inferSelect, 'keyHash'>
export type ActiveKey = typeof apiKeys.$inferSelect

const KEY_COLUMNS = {
  id: apiKeys.id,
  tenantId: apiKeys.tenantId,
  name: apiKeys.name,
  scopes: apiKeys.scopes,
  createdAt: apiKeys.createdAt,
  revokedAt: apiKeys.revokedAt,
}

/** Undefined when the id is taken. */
export async function createTenant(db: Db, t: Pick<typeof tenants.$inferInsert, 'id' | 'name'>): Promise<Tenant | undefined> {
  const rows = await orm(db, (d) => d.insert(tenants).values({ id: t.id, name: t.name }).onConflictDoNothing({ target: tenants.id }).returning())
  return rows[0]
}

export async function getTenant(db: Db, id: string): Promise<Tenant | undefined> {
  const rows = await orm(db, (d) => d.select().from(tenants).where(eq(tenants.id, id)))
  return rows[0]
}

/** Every tenant, by id in code-point order (inCodePointOrder). */
export async function listTenants(db: Db): Promise<Tenant[]> {
  return orm(db, (d) => d.select().from(tenants).orderBy(inCodePointOrder(tenants.id)))
}

export async function createApiKey(db: Db, k: Pick<typeof apiKeys.$inferInsert, 'id' | 'tenantId' | 'name' | 'keyHash' | 'scopes'>): Promise<ApiKey> {
  const rows = await orm(db, (d) => d
    .insert(apiKeys)
    .values({ id: k.id, tenantId: k.tenantId, name: k.name, keyHash: k.keyHash, scopes: k.scopes })
    .returning(KEY_COLUMNS))
  return rows[0]!
}

/** A tenant's keys, oldest first; keys created at the same instant by id in code-point order (inCodePointOrder). */
export async function listApiKeys(db: Db, tenantId: string): Promise<ApiKey[]> {
  return orm(db, (d) => d.select(KEY_COLUMNS).from(apiKeys).where(eq(apiKeys.tenantId, tenantId)).orderBy(apiKeys.createdAt, inCodePointOrder(apiKeys.id)))
}

/** The active keys with any of these hashes; revoked keys never match, and nothing is cached. */
export async function findActiveKeysByHashes(db: Db, keyHashes: readonly string[]): Promise<ActiveKey[]> {
  return orm(db, (d) => d
    .select()
    .from(apiKeys)
    // `= any(array)`, not `in (…)`: one statement text whatever the batch size, so the driver prepares
    // it once for the lookup every authenticated request makes.
    .where(and(sql`${apiKeys.keyHash} = any(${sql.param([...keyHashes])}::text[])`, isNull(apiKeys.revokedAt))))
}

export async function revokeApiKey(db: Db, id: string): Promise<boolean> {
  const rows = await orm(db, (d) => d
    .update(apiKeys)
    .set({ revokedAt: sql`coalesce(${apiKeys.revokedAt}, now())` })
    .where(eq(apiKeys.id, id))
    .returning({ id: apiKeys.id }))
  return rows.length > 0
}

export async function getAdminTokenHash(db: Db): Promise<string | undefined> {
  const rows = await orm(db, (d) => d.select({ tokenHash: adminTokens.tokenHash }).from(adminTokens).where(eq(adminTokens.id, 1)))
  return rows[0]?.tokenHash
}

/** Stores the generated admin token's hash unless one exists; true only for the instance that wrote it. */
export async function insertAdminTokenHash(db: Db, hash: string): Promise<boolean> {
  const rows = await orm(db, (d) => d
    .insert(adminTokens)
    .values({ id: 1, tokenHash: hash })
    .onConflictDoNothing({ target: adminTokens.id })
    .returning({ id: adminTokens.id }))
  return rows.length === 1
}
