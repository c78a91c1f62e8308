import { sql } from 'drizzle-orm'
import type { Db } from '../db/client.js'

export interface VisibleCard {
  id: number
  name: string
  currency: string
}

/** A rate card the tenant may price with: a global card or its own; another tenant's is invisible. */
export async function findVisibleCard(db: Db, tenantId: string, name: string): Promise<VisibleCard | undefined> {
  const rows = await db.query<VisibleCard>(
    sql`select id, name, currency from rate_cards
        where name = ${name} and (tenant_id is null or tenant_id = ${tenantId})`,
  )
  return rows[0]
}
