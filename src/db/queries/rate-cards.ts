import { and, eq, sql } from 'drizzle-orm'
import { canonicalDecimal } from '../../decimal/decimal-text.js'
import { canonicalUnitPrices, PRICE_CLASSES, type Prices, type UnitPrice } from '../rate-columns.js'
import type { Db } from '../client.js'
import { arrayParam } from '../array-literal.js'
import { inCodePointOrder, orm } from '../orm.js'
import { rateCards } from '../schema.js'
import { cardListedFor, cardVisibleTo, type CardViewer } from '../../auth/access.js'

export type RateCard = typeof rateCards.$inferSelect

/** The identity of a rate timeline within one card. */
export interface RateKey {
  provider: string
  model: string
  serviceTier: string
  batch: boolean
  /** null: any context tier (a rate for the row's own tier wins over it). */
  contextTier: string | null
  /** null: any inference geo (a rate for the row's own geo wins over it). */
  inferenceGeo: string | null
}

export interface NewRate extends RateKey {
  effectiveFrom: Date
  effectiveTo: Date | null
  prices: Prices
  unitPrices: UnitPrice[]
  supersedes: number | null
  source: string | null
}

/** A stored rate; it is a pricing TimelineRate (checked where the pricing layer takes it). */
export interface StoredRate extends NewRate {
  id: number
  recordedAt: Date
  cardId: number
}

export async function getCard(db: Db, name: string, viewer: CardViewer): Promise<RateCard | undefined> {
  const rows = await orm(db, (d) => d.select().from(rateCards).where(and(eq(rateCards.name, name), cardVisibleTo(viewer))))
  return rows[0]
}

/** The cards a viewer's list shows (src/auth/access.ts), by name in code-point order (inCodePointOrder). */
export async function listCards(db: Db, viewer: CardViewer): Promise<RateCard[]> {
  return orm(db, (d) => d.select().from(rateCards).where(cardListedFor(viewer)).orderBy(inCodePointOrder(rateCards.name)))
}

/**
 * Creates the card, or updates it when it already exists in the same scope (global, or that tenant's).
 * A name taken in another scope is a clash: names are unique across all cards.
 */
export async function upsertCard(
  db: Db,
  c: Pick<typeof rateCards.$inferInsert, 'name' | 'tenantId' | 'description' | 'currency'>,
): Promise<{ card: RateCard; created: boolean } | { clash: true }> {
  const card = { name: c.name, tenantId: c.tenantId ?? null, description: c.description ?? null, currency: c.currency }
  const inserted = await orm(db, (d) => d.insert(rateCards).values(card).onConflictDoNothing({ target: rateCards.name }).returning())
  if (inserted[0]) return { card: inserted[0], created: true }
  const updated = await orm(db, (d) =>
    d
      .update(rateCards)
      .set({ description: card.description, currency: card.currency, updatedAt: sql`now()` })
      .where(and(eq(rateCards.name, card.name), sql`${rateCards.tenantId} is not distinct from ${card.tenantId}`))
      .returning(),
  )
  return updated[0] ? { card: updated[0], created: false } : { clash: true }
}

/** Takes the card's row lock so concurrent rate writers check overlaps one after another. */
export async function lockCard(db: Db, cardId: number): Promise<void> {
  await orm(db, (d) => d.select({ id: rateCards.id }).from(rateCards).where(eq(rateCards.id, cardId)).for('update'))
}

interface RateRow {
  id: number
  card_id: number
  provider: string
  model: string
  service_tier: string
  batch: boolean
  context_tier: string | null
  inference_geo: string | null
  unit_prices: UnitPrice[]
  effective_from: Date
  effective_to: Date | null
  supersedes: number | null
  source: string | null
  recorded_at: Date
  [price: string]: unknown
}

const RATE_COLUMNS = sql.raw(
  [
    'id',
    'card_id',
    'provider',
    'model',
    'service_tier',
    'batch',
    'context_tier',
    'inference_geo',
    'effective_from',
    'effective_to',
    ...PRICE_CLASSES,
    'unit_prices',
    'supersedes',
    'source',
    'recorded_at',
  ].join(', '),
)

function toRate(r: RateRow): StoredRate {
  const prices: Prices = {}
  for (const c of PRICE_CLASSES) {
    const v = r[c]
    if (typeof v === 'string') prices[c] = canonicalDecimal(v)
  }
  return {
    id: r.id,
    cardId: r.card_id,
    provider: r.provider,
    model: r.model,
    serviceTier: r.service_tier,
    batch: r.batch,
    contextTier: r.context_tier,
    inferenceGeo: r.inference_geo,
    effectiveFrom: r.effective_from,
    effectiveTo: r.effective_to,
    prices,
    unitPrices: canonicalUnitPrices(r.unit_prices ?? []),
    supersedes: r.supersedes,
    source: r.source,
    recordedAt: r.recorded_at,
  }
}

/** Every rate of a card ever written up to `asOf` (default: all), oldest first. */
export async function listRates(db: Db, cardId: number, asOf?: Date): Promise<StoredRate[]> {
  const cutoff = asOf ? sql`and recorded_at <= ${asOf.toISOString()}::timestamptz` : sql``
  const rows = await db.query<RateRow>(
    sql`select ${RATE_COLUMNS} from rates where card_id = ${cardId} ${cutoff} order by id`,
  )
  return rows.map(toRate)
}

const UNNEST_COLUMNS = ['provider', 'model', 'service_tier', 'batch', 'context_tier', 'inference_geo', 'effective_from', 'effective_to', ...PRICE_CLASSES, 'unit_prices', 'supersedes', 'source']

/**
 * Appends rates in one statement (arrays unnested in input order). Rates are never updated: a change
 * is a new rate, a correction a rate that supersedes another.
 *
 * `recorded_at` is this statement's start, not the column default now() (the transaction's start): a
 * writer's transaction starts before it waits for the card's lock and checks its rates, and until it
 * commits a query priced as of a later instant cannot see the rates — which, stamped with the earlier
 * instant, then changed the answer of that very `pricingAsOf` (and the pages of one REST listing)
 * once they were committed. Call it as the writer's last statement. It is kept to the millisecond, the
 * precision every instant is written and read with: stamped to the microsecond, a rate answered as
 * recorded at T was recorded after T, and `pricingAsOf: T` left it out.
 */
export async function insertRates(db: Db, cardId: number, rates: readonly NewRate[]): Promise<StoredRate[]> {
  if (rates.length === 0) return []
  // Each column one array literal, cast straight to its type (arrayParam: the one way a set-based write sends a column).
  const col = (f: (r: NewRate) => string | null, type: string) => arrayParam(rates.map(f), type)
  const priceArrays = PRICE_CLASSES.map((c) => col((r) => r.prices[c] ?? null, 'numeric[]'))
  const rows = await db.query<RateRow>(
    sql`insert into rates (card_id, provider, model, service_tier, batch, context_tier, inference_geo, effective_from, effective_to,
          ${sql.raw(PRICE_CLASSES.join(', '))}, unit_prices, supersedes, source, recorded_at)
        select ${cardId}::int8, ${sql.raw(UNNEST_COLUMNS.join(', '))}, date_trunc('milliseconds', statement_timestamp()) from unnest(
          ${col((r) => r.provider, 'text[]')},
          ${col((r) => r.model, 'text[]')},
          ${col((r) => r.serviceTier, 'text[]')},
          ${col((r) => String(r.batch), 'bool[]')},
          ${col((r) => r.contextTier, 'text[]')},
          ${col((r) => r.inferenceGeo, 'text[]')},
          ${col((r) => r.effectiveFrom.toISOString(), 'timestamptz[]')},
          ${col((r) => r.effectiveTo?.toISOString() ?? null, 'timestamptz[]')},
          ${sql.join(priceArrays, sql`, `)},
          ${col((r) => JSON.stringify(canonicalUnitPrices(r.unitPrices)), 'jsonb[]')},
          ${col((r) => (r.supersedes === null ? null : String(r.supersedes)), 'int8[]')},
          ${col((r) => r.source, 'text[]')}
        ) with ordinality as u(${sql.raw(UNNEST_COLUMNS.join(', '))}, ord)
        order by ord
        returning ${RATE_COLUMNS}`,
  )
  return rows.map(toRate).sort((a, b) => a.id - b.id)
}
