/**
 * THE token-class table (the one definition; src/db never imports pricing): every counter a usage row is
 * reduced to, by its TokenClasses key (JS) and its column (usage_buckets, usage_events, the rollups, staging, COPY). Staging, COPY encoding, the events
 * writer, merge and PRICED_CLASSES are generated from it; the drizzle schema and the (immutable)
 * migrations are checked against it by test/db/token-columns.test.ts.
 *
 * The priced token classes: which stored counter is priced by which rate column, which Cost field
 * it adds to, and which modality it belongs to. Every class is priced separately; there is no
 * fallback between classes (a missing price makes the class unpriced, never $0).
 */
export const PRICED_CLASSES = [
  { key: 'inText', column: 'in_text', price: 'input', cost: 'input', modality: 'text', lineItem: 'input' },
  { key: 'inAudio', column: 'in_audio', price: 'input_audio', cost: 'input', modality: 'audio', lineItem: 'input audio' },
  { key: 'inImage', column: 'in_image', price: 'input_image', cost: 'input', modality: 'image', lineItem: 'input image' },
  { key: 'cachedText', column: 'cached_text', price: 'cached_input', cost: 'cachedInput', modality: 'text', lineItem: 'cached input' },
  { key: 'cachedAudio', column: 'cached_audio', price: 'cached_input_audio', cost: 'cachedInput', modality: 'audio', lineItem: 'cached input audio' },
  { key: 'cachedImage', column: 'cached_image', price: 'cached_input_image', cost: 'cachedInput', modality: 'image', lineItem: 'cached input image' },
  { key: 'cacheWrite', column: 'cache_write', price: 'cache_write', cost: 'cacheWrite', modality: 'text', lineItem: 'cache write' },
  { key: 'cacheWrite1h', column: 'cache_write_1h', price: 'cache_write_1h', cost: 'cacheWrite', modality: 'text', lineItem: 'cache write 1h' },
  { key: 'outText', column: 'out_text', price: 'output', cost: 'output', modality: 'text', lineItem: 'output' },
  { key: 'outAudio', column: 'out_audio', price: 'output_audio', cost: 'output', modality: 'audio', lineItem: 'output audio' },
  { key: 'outImage', column: 'out_image', price: 'output_image', cost: 'output', modality: 'image', lineItem: 'output image' },
] as const

export type PricedClass = (typeof PRICED_CLASSES)[number]
export type CostField = PricedClass['cost']

/**
 * The Cost fields the token classes add to, each with the column its unpriced tokens are summed under
 * (GraphQL `Cost.unpricedTokensByClass`): which class had no price, not only how many tokens did.
 */
export const UNPRICED_BY_COST = [
  { field: 'input', column: 'unpriced_input' },
  { field: 'cachedInput', column: 'unpriced_cached_input' },
  { field: 'cacheWrite', column: 'unpriced_cache_write' },
  { field: 'output', column: 'unpriced_output' },
] as const satisfies readonly { field: CostField; column: string }[]
export type Modality = PricedClass['modality']

/** Every stored token counter in storage order: the two totals, then the priced classes. */
export const TOKEN_COUNTERS = [
  { key: 'inputTokens', column: 'input_tokens' },
  { key: 'outputTokens', column: 'output_tokens' },
  ...PRICED_CLASSES.map(({ key, column }) => ({ key, column })),
] as const satisfies readonly { key: string; column: string }[]

export type TokenCounterKey = (typeof TOKEN_COUNTERS)[number]['key']
export type TokenCounterColumn = (typeof TOKEN_COUNTERS)[number]['column']
