import { sql } from 'drizzle-orm'
import type { Db } from '../../db/client.js'
import { insertRates, listRates, lockCard, type NewRate, type StoredRate } from '../../db/queries/rate-cards.js'
import { canonicalUnitPrices, type UnitPrice } from '../../db/rate-columns.js'
import { samePrices } from '../prices.js'
import { describeOverlap, storedOverlaps } from '../rate-checks.js'
import { keyOf, sameKey, supersededIds } from '../rate-timeline.js'
import { CATALOG_PACKAGE, catalogVersion, providerRates, type CatalogRate } from './genai-prices.js'
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
 *
 * A slot the catalog no longer lists (a newer version moved or dropped a price segment, or the model)
 * is "changed" too: its imported rate is superseded by what the catalog now says for that instant — the
 * catalog's earlier segment of the timeline if one is in force there, else no price (unpriced, never the
 * dropped figure). Kept, the dropped rate went on pricing usage from its `effective_from` on. Only rates
 * the import wrote are retracted (their `source` names the catalog or is one the catalog writes): an
 * admin's own rates and hand corrections on `default` are not the catalog's to drop.
 *
 * Nor to overrule: a catalog rate that would overlap a rate the card keeps (an admin's own rate on
 * `default`, by an equal start or intersecting explicit ranges) is not written and is named in
 * `skipped`, so the card the import leaves has no overlap. It runs on every start, where a refusal
 * would keep the server down, so the admin's rate wins and the catalog's is reported. The catalog still
 * supersedes a slot it imported when its price there changes, hand-corrected or not (documented).
 */
export function planImport(stored: readonly StoredRate[], catalog: readonly NewRate[], version = catalogVersion()): ImportPlan {
  const gone = supersededIds(stored)
  const importSources = new Set(catalog.map((c) => c.source))
  const imported = (s: StoredRate) => s.source !== null && (s.source.includes(`${CATALOG_PACKAGE}@`) || importSources.has(s.source))
  const slot = (r: NewRate) => `${keyOf(r)}@${r.effectiveFrom.getTime()}`
  const bySlot = new Map<string, StoredRate[]>()
  for (const s of stored) bySlot.set(slot(s), [...(bySlot.get(slot(s)) ?? []), s])
  const same = (s: StoredRate, c: NewRate) =>
    samePrices(s.prices, c.prices) && unitKey(s.unitPrices) === unitKey(c.unitPrices) && (s.effectiveTo?.getTime() ?? null) === (c.effectiveTo?.getTime() ?? null)
  const out: NewRate[] = []
  for (const c of catalog) {
    const here = bySlot.get(slot(c)) ?? []
    if (here.length === 0) {
      out.push(c)
      continue
    }
    if (here.some((s) => same(s, c))) continue
    const current = here.find((s) => !gone.has(s.id))
    if (current) out.push({ ...c, supersedes: current.id })
  }
  const listed = new Set(catalog.map(slot))
  for (const [key, here] of bySlot) {
    if (listed.has(key)) continue
    const current = here.find((s) => !gone.has(s.id))
    if (!current || !imported(current)) continue
    const now = catalogAt(catalog, current, version)
    if (!same(current, now)) out.push({ ...now, supersedes: current.id })
  }
  // Only a slot the catalog imported is the catalog's to supersede; an admin's own slot stays theirs.
  const catalogSlots = new Set([...bySlot].filter(([, here]) => here.some(imported)).map(([key]) => key))
  const byId = new Map(stored.map((s) => [s.id, s]))
  const retires = (r: NewRate) => r.supersedes !== null && catalogSlots.has(slot(byId.get(r.supersedes)!))
  // Skipping a rate can un-retire the rate it superseded, which may then overlap another: until none does.
  const skipped: string[] = []
  let rates = out
  for (;;) {
    const clashes = storedOverlaps(stored, rates, new Set(rates.filter(retires).map((r) => r.supersedes!)))
    if (clashes.length === 0) return { rates, skipped }
    for (const { index, rate } of clashes) skipped.push(`${describeOverlap(rates[index]!, rate)}${imported(rate) ? '' : ' (not imported by the catalog)'}`)
    const drop = new Set(clashes.map((c) => c.index))
    rates = rates.filter((_, i) => !drop.has(i))
  }
}

export interface ImportPlan {
  /** What the import writes. */
  rates: NewRate[]
  /** Catalog rates not written, each naming the rate of the card it would overlap. */
  skipped: string[]
}

/** The catalog's rate for a dropped slot: its timeline's segment in force at the slot's start, else a priceless one. */
function catalogAt(catalog: readonly NewRate[], dropped: StoredRate, version: string): NewRate {
  const at = dropped.effectiveFrom
  let before: NewRate | undefined
  for (const c of catalog)
    if (sameKey(c, dropped) && c.effectiveFrom < at && (!before || c.effectiveFrom > before.effectiveFrom)) before = c
  const inForce = before && (!before.effectiveTo || at < before.effectiveTo) ? before : undefined
  const { id: _id, cardId: _card, recordedAt: _recorded, ...rate } = dropped
  return inForce
    ? { ...rate, effectiveTo: inForce.effectiveTo, prices: inForce.prices, unitPrices: inForce.unitPrices, source: inForce.source }
    : { ...rate, effectiveTo: null, prices: {}, unitPrices: [], source: `${CATALOG_PACKAGE}@${version}: no longer in the catalog (unpriced)` }
}

const toNew = ({ catalogId: _catalogId, ...r }: CatalogRate): NewRate => r

/**
 * Creates the global `default` card if needed and imports the installed catalog into it. Idempotent:
 * runs on every start (after migrations) and from `npm run rates:refresh`.
 */
export async function ensureDefaultCard(
  db: Db,
  catalog: readonly NewRate[] = defaultCardRates().map(toNew),
): Promise<{ cardId: number; inserted: number; version: string; skipped: string[] }> {
  const version = catalogVersion()
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
    const plan = planImport(await listRates(tx, card.id), catalog, version)
    const written = await insertRates(tx, card.id, plan.rates)
    return { cardId: card.id, inserted: written.length, version, skipped: plan.skipped }
  })
}
