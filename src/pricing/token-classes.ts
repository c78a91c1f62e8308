/**
 * The priced token classes: which stored counter is priced by which rate column, which Cost field
 * it adds to, and which modality it belongs to. Every class is priced separately; there is no
 * fallback between classes (a missing price makes the class unpriced, never $0).
 */
export const PRICED_CLASSES = [
  { column: 'in_text', price: 'input', cost: 'input', modality: 'text', lineItem: 'input' },
  { column: 'in_audio', price: 'input_audio', cost: 'input', modality: 'audio', lineItem: 'input audio' },
  { column: 'in_image', price: 'input_image', cost: 'input', modality: 'image', lineItem: 'input image' },
  { column: 'cached_text', price: 'cached_input', cost: 'cachedInput', modality: 'text', lineItem: 'cached input' },
  { column: 'cached_audio', price: 'cached_input_audio', cost: 'cachedInput', modality: 'audio', lineItem: 'cached input audio' },
  { column: 'cached_image', price: 'cached_input_image', cost: 'cachedInput', modality: 'image', lineItem: 'cached input image' },
  { column: 'cache_write', price: 'cache_write', cost: 'cacheWrite', modality: 'text', lineItem: 'cache write' },
  { column: 'cache_write_1h', price: 'cache_write_1h', cost: 'cacheWrite', modality: 'text', lineItem: 'cache write 1h' },
  { column: 'out_text', price: 'output', cost: 'output', modality: 'text', lineItem: 'output' },
  { column: 'out_audio', price: 'output_audio', cost: 'output', modality: 'audio', lineItem: 'output audio' },
  { column: 'out_image', price: 'output_image', cost: 'output', modality: 'image', lineItem: 'output image' },
] as const

export type PricedClass = (typeof PRICED_CLASSES)[number]
export type CostField = PricedClass['cost']
export const COST_FIELDS = ['input', 'cachedInput', 'cacheWrite', 'output'] as const satisfies readonly CostField[]
export const MODALITIES = ['text', 'audio', 'image'] as const
export type Modality = (typeof MODALITIES)[number]
