import { sql } from 'drizzle-orm'
import { canonicalDecimal } from '../../decimal/decimal-text.js'
import { canonicalUnitPrices, PRICE_CLASSES, type Prices, type UnitPrice } from '../rate-columns.js'
import type { Db } from '../client.js'
import { cardListedFor, cardVisibleTo, type CardViewer } from '../../auth/access.js'

export interface RateCardRow {
  id: number
  name: string
  tenant_id: string | null
  description: string | null
  currency: string
  created_at: Date
  updated_at: Date
}

export interface NewRate {
  provider: string
  model: string
  serviceTier: string
  batch: boolean
  contextTier: string | null
  inferenceGeo: string | null
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

const CARD_COLUMNS = sql`id, name, tenant_id, description, currency, created_at, updated_at`

export async function getCard(db: Db, name: string, viewer: CardViewer): Promise<RateCardRow | undefined> {
  const scope = cardVisibleTo(viewer) ?? sql`true`
  const rows = await db.query<RateCardRow>(sql`select ${CARD_COLUMNS} from rate_cards where name = ${name} and ${scope}`)
  return rows[0]
}

/** The cards a viewer's list shows (src/auth/access.ts), by name. */
export async function listCards(db: Db, viewer: CardViewer): Promise<RateCardRow[]> {
  return db.query<RateCardRow>(sql`select ${CARD_COLUMNS} from rate_cards where ${cardListedFor(viewer)} order by name`)
}

/**
 * Creates the card, or updates it when it already exists in the same scope (global, or that tenant's).
 * A name taken in another scope is a clash: names are unique across all cards.
 */
export async function upsertCard(
  db: Db,
  c: { name: string; tenantId: string | null; description: string | null; currency: string },
): Promise<{ card: RateCardRow; created: boolean } | { clash: true }> {
  const inserted = await db.query<RateCardRow>(
    sql`insert into rate_cards (name, tenant_id, description, currency)
        values (${c.name}, ${c.tenantId}, ${c.description}, ${c.currency})
        on conflict (name) do nothing returning ${CARD_COLUMNS}`,
  )
  if (inserted[0]) return { card: inserted[0], created: true }
  const updated = await db.query<RateCardRow>(
    sql`update rate_cards set description = ${c.description}, currency = ${c.currency}, updated_at = now()
        where name = ${c.name} and tenant_id is not distinct from ${c.tenantId} returning ${CARD_COLUMNS}`,
  )
  return updated[0] ? { card: updated[0], created: false } : { clash: true }
}

/** Takes the card's row lock so concurrent rate writers check overlaps one after another. */
export async function lockCard(db: Db, cardId: number): Promise<void> {
  await db.query(sql`select id from rate_cards where id = ${cardId} for update`)
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
 */
export async function insertRates(db: Db, cardId: number, rates: readonly NewRate[]): Promise<StoredRate[]> {
  if (rates.length === 0) return []
  const col = <T>(f: (r: NewRate) => T) => sql.param(rates.map(f))
  const priceArrays = PRICE_CLASSES.map((c) => sql`${col((r) => r.prices[c] ?? null)}::text[]::numeric[]`)
  const rows = await db.query<RateRow>(
    sql`insert into rates (card_id, provider, model, service_tier, batch, context_tier, inference_geo, effective_from, effective_to,
          ${sql.raw(PRICE_CLASSES.join(', '))}, unit_prices, supersedes, source)
        select ${cardId}::int8, ${sql.raw(UNNEST_COLUMNS.join(', '))} from unnest(
          ${col((r) => r.provider)}::text[],
          ${col((r) => r.model)}::text[],
          ${col((r) => r.serviceTier)}::text[],
          ${col((r) => String(r.batch))}::text[]::bool[],
          ${col((r) => r.contextTier)}::text[],
          ${col((r) => r.inferenceGeo)}::text[],
          ${col((r) => r.effectiveFrom.toISOString())}::text[]::timestamptz[],
          ${col((r) => r.effectiveTo?.toISOString() ?? null)}::text[]::timestamptz[],
          ${sql.join(priceArrays, sql`, `)},
          ${col((r) => JSON.stringify(canonicalUnitPrices(r.unitPrices)))}::text[]::jsonb[],
          ${col((r) => (r.supersedes === null ? null : String(r.supersedes)))}::text[]::int8[],
          ${col((r) => r.source)}::text[]
        ) with ordinality as u(${sql.raw(UNNEST_COLUMNS.join(', '))}, ord)
        order by ord
        returning ${RATE_COLUMNS}`,
  )
  return rows.map(toRate).sort((a, b) => a.id - b.id)
}
