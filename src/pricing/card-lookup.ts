import { and, eq } from 'drizzle-orm'
import { cardVisibleTo, tenantViewer } from '../auth/access.js'
import type { Db } from '../db/client.js'
import { orm } from '../db/orm.js'
import { rateCards } from '../db/schema.js'

export type VisibleCard = Pick<typeof rateCards.$inferSelect, 'id' | 'name' | 'currency'>

/** A rate card the tenant may price with (src/auth/access.ts: a global card or its own). */
export async function findVisibleCard(db: Db, tenantId: string, name: string): Promise<VisibleCard | undefined> {
  const rows = await orm(db, (d) =>
    d
      .select({ id: rateCards.id, name: rateCards.name, currency: rateCards.currency })
      .from(rateCards)
      .where(and(eq(rateCards.name, name), cardVisibleTo(tenantViewer(tenantId)))),
  )
  return rows[0]
}
