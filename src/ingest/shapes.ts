import { ownValue } from '../own-key.js'

/**
 * Report shapes (contract v2 "Report shapes"): within one request, the rows of one (provider, account,
 * usage type or resource, start, end) form a shape, whose grouped dimensions are those non-null in any
 * of its rows — or those the request declares with `?group_by=`. A stored row keeps its shape, and rows
 * of one provider account and usage type or resource may overlap in time only with the same (start,
 * end) and the same shape. A null inside a grouped dimension is then just a value.
 *
 * The shape is stored as text: the bit mask of grouped dimensions, and for resources `|` and the
 * sorted attribute keys grouped (`"9|size,source"`). Migration 0003 uses the same bits.
 */

export const SHAPE_BITS = {
  project_id: 1,
  user_id: 2,
  api_key_id: 4,
  model: 8,
  batch: 16,
  service_tier: 32,
  context_tier: 64,
  inference_geo: 128,
} as const

export type ShapeDimension = keyof typeof SHAPE_BITS

const SHAPE_BIT_ENTRIES = Object.entries(SHAPE_BITS) as [ShapeDimension, number][]

/** The dimensions a row reports (non-null as sent, before defaults such as the tier `default`). */
export function presentMask(values: Partial<Record<ShapeDimension, unknown>>): number {
  let mask = 0
  for (const [dim, bit] of SHAPE_BIT_ENTRIES) if (values[dim] !== undefined && values[dim] !== null) mask |= bit
  return mask
}

/** Providers' `group_by` names for the ledger's dimensions (OpenAI's are the ledger's own). */
const GROUP_BY_ALIASES: Record<string, ShapeDimension> = {
  workspace_id: 'project_id',
  account_id: 'user_id',
  service_account_id: 'user_id',
  context_window: 'context_tier',
}

/** A request's declared `group_by`: dimension bits, and every other name as an attribute key. */
export interface DeclaredShape {
  mask: number
  attributes: string[]
}

export function declaredShape(groupBy: readonly string[] | undefined): DeclaredShape | undefined {
  if (!groupBy?.length) return undefined
  let mask = 0
  const attributes = new Set<string>()
  for (const name of groupBy) {
    const dim = ownValue(GROUP_BY_ALIASES, name) ?? (Object.hasOwn(SHAPE_BITS, name) ? (name as ShapeDimension) : undefined)
    if (dim) mask |= SHAPE_BITS[dim]
    else attributes.add(name)
  }
  return { mask, attributes: [...attributes].sort() }
}

/**
 * The declared names that can be neither: not a dimension (or a provider's name for one), not an attribute
 * key of any resource row of the request, nor one the providers' resources report (`knownAttributes`).
 * A typo (`projetc_id`) would otherwise declare an attribute no row has, silently changing the shape.
 */
export function unknownGroupBy(declared: DeclaredShape | undefined, rowAttributeKeys: Iterable<string>, knownAttributes: Iterable<string>): string[] {
  if (!declared?.attributes.length) return []
  const known = new Set([...rowAttributeKeys, ...knownAttributes])
  return declared.attributes.filter((a) => !known.has(a))
}

/** Every name `group_by` accepts as a dimension (the ledger's and the providers'), for messages. */
export const GROUP_BY_DIMENSIONS: readonly string[] = [...Object.keys(SHAPE_BITS), ...Object.keys(GROUP_BY_ALIASES)]

/** The stored text of a shape. */
export function shapeText(mask: number, attributeKeys?: Iterable<string>): string {
  const keys = attributeKeys ? [...new Set(attributeKeys)].sort() : []
  return keys.length ? `${mask}|${keys.join(',')}` : String(mask)
}
