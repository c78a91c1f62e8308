import { sql } from 'drizzle-orm'
import type { Db } from '../client.js'

export interface TenantRow {
  id: string
  name: string
  created_at: Date
}

export interface ApiKeyRow {
  id: string
  tenant_id: string
  name: string
  scopes: string[]
  created_at: Date
  revoked_at: Date | null
}

export async function createTenant(db: Db, t: { id: string; name: string }): Promise<TenantRow | undefined> {
  const rows = await db.query<TenantRow>(
    sql`insert into tenants (id, name) values (${t.id}, ${t.name}) on conflict (id) do nothing returning id, name, created_at`,
  )
  return rows[0]
}

export async function getTenant(db: Db, id: string): Promise<TenantRow | undefined> {
  const rows = await db.query<TenantRow>(sql`select id, name, created_at from tenants where id = ${id}`)
  return rows[0]
}

export async function listTenants(db: Db): Promise<TenantRow[]> {
  return db.query<TenantRow>(sql`select id, name, created_at from tenants order by id`)
}

export async function createApiKey(
  db: Db,
  k: { id: string; tenantId: string; name: string; keyHash: string; scopes: string[] },
): Promise<ApiKeyRow> {
  const rows = await db.query<ApiKeyRow>(
    sql`insert into api_keys (id, tenant_id, name, key_hash, scopes)
        values (${k.id}, ${k.tenantId}, ${k.name}, ${k.keyHash}, ${sql.param(k.scopes)}::text[])
        returning id, tenant_id, name, scopes, created_at, revoked_at`,
  )
  return rows[0]!
}

export async function listApiKeys(db: Db, tenantId: string): Promise<ApiKeyRow[]> {
  return db.query<ApiKeyRow>(
    sql`select id, tenant_id, name, scopes, created_at, revoked_at from api_keys
        where tenant_id = ${tenantId} order by created_at, id`,
  )
}

/** The active keys with any of these hashes; revoked keys never match, and nothing is cached. */
export async function findActiveKeysByHashes(
  db: Db,
  keyHashes: readonly string[],
): Promise<(ApiKeyRow & { key_hash: string })[]> {
  return db.query<ApiKeyRow & { key_hash: string }>(
    sql`select id, tenant_id, name, scopes, key_hash, created_at, revoked_at from api_keys
        where key_hash = any(${sql.param([...keyHashes])}::text[]) and revoked_at is null`,
  )
}

export async function revokeApiKey(db: Db, id: string): Promise<boolean> {
  const rows = await db.query(
    sql`update api_keys set revoked_at = coalesce(revoked_at, now()) where id = ${id} returning id`,
  )
  return rows.length > 0
}

export async function getAdminTokenHash(db: Db): Promise<string | undefined> {
  const rows = await db.query<{ token_hash: string }>(sql`select token_hash from admin_tokens where id = 1`)
  return rows[0]?.token_hash
}

/** Stores the generated admin token's hash unless one exists; true only for the instance that wrote it. */
export async function insertAdminTokenHash(db: Db, hash: string): Promise<boolean> {
  const rows = await db.query(
    sql`insert into admin_tokens (id, token_hash) values (1, ${hash}) on conflict (id) do nothing returning id`,
  )
  return rows.length === 1
}
