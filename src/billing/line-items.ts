import { PRICED_CLASSES, type PricedClass } from '../db/token-columns.js'
import { ownValue } from '../own-key.js'

/**
 * Providers' billed line items ↔ the ledger's priced token classes. One table for both directions:
 * ingest reads the model out of an OpenAI line item, reconciliation splits computed cost into the
 * provider's line items and maps billed items back onto classes.
 */

export type ClassColumn = PricedClass['column']

/** The costs mirror's item names (`"<model>, input"`, `"<model>, cached input"`, …): PRICED_CLASSES.lineItem. */
const OPENAI_CLASS = new Map<string, ClassColumn>(PRICED_CLASSES.map((c) => [c.lineItem, c.column]))

/** Resource line items (contract v2 "REST mirrors, extended": `"<model>, <resource>"`). */
const OPENAI_RESOURCE_ITEMS = new Set([
  'images',
  'characters',
  'audio_seconds',
  'storage_bytes',
  'code_interpreter_sessions',
  'file_search_calls',
  'web_search_calls',
])

/** Tier suffixes the costs mirror writes where the tier is not `default`. */
const TIER_SUFFIXES = new Set(['flex', 'priority', 'scale'])

export interface OpenAILineItem {
  model: string
  /** The item after the model: `input`, `cached input`, `images`, … */
  item: string
  /** The token class, when the item is one (resources have none). */
  column: ClassColumn | undefined
  serviceTier: string
  batch: boolean
}

/**
 * `"<model>, <item>[, <tier>][, batch]"` → its parts, or undefined when the text after the first
 * `", "` is not a known line item (then the billed row has no model: contract v2).
 */
export function parseOpenAILineItem(text: string): OpenAILineItem | undefined {
  const at = text.indexOf(', ')
  if (at <= 0) return undefined
  const [item = '', ...suffixes] = text.slice(at + 2).split(', ')
  const column = OPENAI_CLASS.get(item)
  if (!column && !OPENAI_RESOURCE_ITEMS.has(item)) return undefined
  const tier = tierOfSuffixes(suffixes)
  return tier && { model: text.slice(0, at), item, column, ...tier }
}

/** `[, <tier>][, batch]` after an item → its tier and batch flag, or undefined when a suffix is unknown. */
function tierOfSuffixes(suffixes: readonly string[]): { serviceTier: string; batch: boolean } | undefined {
  let serviceTier = 'default'
  let batch = false
  for (const s of suffixes) {
    if (s === 'batch' && !batch) batch = true
    else if (TIER_SUFFIXES.has(s) && serviceTier === 'default' && !batch) serviceTier = s
    else return undefined
  }
  return { serviceTier, batch }
}

/**
 * `"<resource>[, <tier>][, batch]"`: the item of a resource reported without a model (file searches,
 * vector storage, code interpreter sessions), as the costs mirror names it — or undefined.
 */
export function parseModellessResourceItem(text: string): { resource: string; serviceTier: string; batch: boolean } | undefined {
  const [resource = '', ...suffixes] = text.split(', ')
  if (!OPENAI_RESOURCE_ITEMS.has(resource)) return undefined
  const tier = tierOfSuffixes(suffixes)
  return tier && { resource, ...tier }
}

/** OpenAI's name for a class of a model's usage, as the costs mirror writes it. */
function openAILineItem(model: string | null, column: ClassColumn, serviceTier: string | null, batch: boolean): string {
  const item = PRICED_CLASSES.find((c) => c.column === column)!.lineItem
  const tier = serviceTier && serviceTier !== 'default' ? `, ${serviceTier}` : ''
  return `${model ?? 'unknown model'}, ${item}${tier}${batch ? ', batch' : ''}`
}

/** Anthropic cost_report `token_type` ↔ class (contract v2 "Anthropic usage reports" maps the same counters). */
const ANTHROPIC_TOKEN_TYPES: Partial<Record<ClassColumn, string>> = {
  in_text: 'uncached_input_tokens',
  cached_text: 'cache_read_input_tokens',
  cache_write: 'cache_creation.ephemeral_5m_input_tokens',
  cache_write_1h: 'cache_creation.ephemeral_1h_input_tokens',
  out_text: 'output_tokens',
}

const ANTHROPIC_CLASS = new Map<string, ClassColumn>(
  Object.entries(ANTHROPIC_TOKEN_TYPES).map(([column, type]) => [type, column as ClassColumn]),
)

export function anthropicClass(tokenType: string | null): ClassColumn | undefined {
  return tokenType === null ? undefined : ANTHROPIC_CLASS.get(tokenType)
}

/** Anthropic cost_report `cost_type`s that are a ledger resource (contract v2 maps web searches to `web_search_calls`). */
const ANTHROPIC_RESOURCE_COSTS: Record<string, string> = { web_search: 'web_search_calls' }

export function anthropicResource(costType: string | null): string | undefined {
  return costType === null ? undefined : ownValue(ANTHROPIC_RESOURCE_COSTS, costType)
}

/** The provider's name for a computed resource: `"<model>, <resource>"` (the resource alone without a model); Anthropic's cost_type. */
export function computedResourceItem(provider: string, model: string | null, resource: string, serviceTier: string | null, batch: boolean): string {
  if (provider === 'anthropic') {
    const costType = Object.entries(ANTHROPIC_RESOURCE_COSTS).find(([, r]) => r === resource)?.[0]
    if (costType) return anthropicItemText(costType, serviceTier, batch)
  }
  return model === null ? resource : `${model}, ${resource}`
}

/**
 * Anthropic names an item by its token type (or cost type) alone; the tier is a separate field of the
 * report, so it is appended where not standard, as OpenAI's names do (`output_tokens, batch`).
 */
export function anthropicItemText(type: string, serviceTier: string | null, batch: boolean): string {
  return `${type}${serviceTier && serviceTier !== 'default' ? `, ${serviceTier}` : ''}${batch ? ', batch' : ''}`
}

/** The provider's name for a computed class: Anthropic's token_type, otherwise OpenAI's line item. */
export function computedLineItem(provider: string, model: string | null, column: ClassColumn, serviceTier: string | null, batch: boolean): string {
  const tokenType = ANTHROPIC_TOKEN_TYPES[column]
  if (provider === 'anthropic' && tokenType) return anthropicItemText(tokenType, serviceTier, batch)
  return openAILineItem(model, column, serviceTier, batch)
}
