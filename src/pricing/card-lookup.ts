import { sql } from 'drizzle-orm'
import { cardVisibleTo, tenantViewer } from '../auth/access.js'
import type { Db } from '../db/client.js'

export interface VisibleCard {
  id: number
  name: string
  currency: string
}

/** A rate card the tenant may price with (src/auth/access.ts: a global card or its own). */
export async function findVisibleCard(db: Db, tenantId: string, name: string): Promise<VisibleCard | undefined> {
  const rows = await db.query<VisibleCard>(
    sql`select id, name, currency from rate_cards where name = ${name} and ${cardVisibleTo(tenantViewer(tenantId))}`,
  )
  return rows[0]
}
