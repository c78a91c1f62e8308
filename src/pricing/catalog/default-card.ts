import { sql } from 'drizzle-orm'
import type { Db } from '../../db/client.js'
import { insertRates, listRates, lockCard, type NewRate, type StoredRate } from '../../db/queries/rate-cards.js'
import { canonicalUnitPrices, type UnitPrice } from '../../db/rate-columns.js'
import { samePrices } from '../prices.js'
import { keyOf, supersededIds } from '../rate-timeline.js'
import { catalogVersion, providerRates, type CatalogRate } from './genai-prices.js'
import { anthropicBatchRates } from './anthropic-batch.js'
import { anthropicUsGeoRates } from './anthropic-geo.js'
import { withOpenAIUnitPrices } from './openai-resources.js'
import { openaiTierRates } from './openai-tiers.js'

const DEFAULT_CARD = 'default'
const CATALOG_PROVIDERS = ['openai', 'anthropic', 'google'] as const

// Shared by every instance: seeding from several instances starting at once runs one after another.
const SEED_LOCK_KEY = 7_261_532_101

/**
 * The default card's rates from the installed catalog, plus what it lacks: OpenAI's tier prices and
 * hand-entered per-unit prices, Anthropic's batch discount, and priceless US-only-geo Anthropic rates
 * (that surcharge is unknown here: such usage is unpriced, never approximated).
 */
export function defaultCardRates(version = catalogVersion()): CatalogRate[] {
  const standard = withOpenAIUnitPrices(CATALOG_PROVIDERS.flatMap((p) => providerRates(p, version)))
  const batch = anthropicBatchRates(standard)
  return [...standard, ...openaiTierRates(standard), ...batch, ...anthropicUsGeoRates([...standard, ...batch])]
}

const unitKey = (list: readonly UnitPrice[]) => JSON.stringify(canonicalUnitPrices(list))

/**
 * What a (re-)import writes: a catalog rate whose timeline slot (key + effective_from) is empty is
 * added; one whose slot holds a rate with the same prices is already there. When the catalog now says
 * something else for a slot, a new rate supersedes the current one — old rates are never rewritten.
 * A slot whose rates were all superseded by hand is left alone.
 */
export function planImport(stored: readonly StoredRate[], catalog: readonly NewRate[]): NewRate[] {
  const gone = supersededIds(stored)
  const slot = (r: NewRate) => `${keyOf(r)}@${r.effectiveFrom.getTime()}`
  const bySlot = new Map<string, StoredRate[]>()
  for (const s of stored) bySlot.set(slot(s), [...(bySlot.get(slot(s)) ?? []), s])
  const out: NewRate[] = []
  for (const c of catalog) {
    const here = bySlot.get(slot(c)) ?? []
    if (here.length === 0) {
      out.push(c)
      continue
    }
    const same = (s: StoredRate) =>
      samePrices(s.prices, c.prices) && unitKey(s.unitPrices) === unitKey(c.unitPrices) && (s.effectiveTo?.getTime() ?? null) === (c.effectiveTo?.getTime() ?? null)
    if (here.some(same)) continue
    const current = here.find((s) => !gone.has(s.id))
    if (current) out.push({ ...c, supersedes: current.id })
  }
  return out
}

const toNew = ({ catalogId: _catalogId, ...r }: CatalogRate): NewRate => r

/**
 * Creates the global `default` card if needed and imports the installed catalog into it. Idempotent:
 * runs on every start (after migrations) and from `npm run rates:refresh`.
 */
export async function ensureDefaultCard(db: Db): Promise<{ cardId: number; inserted: number; version: string }> {
  const version = catalogVersion()
  const catalog = defaultCardRates(version).map(toNew)
  return db.transaction(async (tx) => {
    await tx.query(sql`select pg_advisory_xact_lock(${SEED_LOCK_KEY})`)
    await tx.query(
      sql`insert into rate_cards (name, tenant_id, description, currency)
          values (${DEFAULT_CARD}, null, ${`Public list prices: ${'@pydantic/genai-prices'} catalog plus OpenAI batch, flex and priority tiers, OpenAI resource prices and Anthropic batch`}, 'USD')
          on conflict (name) do nothing`,
    )
    const [card] = await tx.query<{ id: number; tenant_id: string | null }>(
      sql`select id, tenant_id from rate_cards where name = ${DEFAULT_CARD}`,
    )
    if (!card || card.tenant_id !== null) throw new Error(`rate card "${DEFAULT_CARD}" exists but is not global`)
    await lockCard(tx, card.id)
    const plan = planImport(await listRates(tx, card.id), catalog)
    const written = await insertRates(tx, card.id, plan)
    return { cardId: card.id, inserted: written.length, version }
  })
}
