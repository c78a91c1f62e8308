import { SHAPE_BITS } from '../ingest/shapes.js'
import { ownValue } from '../own-key.js'

/**
 * The report shape of billed costs (contract v2 "Report shapes", applied to costs): the dimensions a
 * cost report is grouped by. OpenAI's costs `group_by` is `project_id`, `line_item`, `api_key_id`;
 * Anthropic's cost_report `workspace_id` (→ project) and `description` (→ line item). The project and
 * key bits are the usage shapes' own; the line item has a bit no usage dimension uses.
 */
const LINE_ITEM_BIT = 1 << 12

const BILLED_GROUP_BY: Record<string, number> = {
  project_id: SHAPE_BITS.project_id,
  workspace_id: SHAPE_BITS.project_id,
  api_key_id: SHAPE_BITS.api_key_id,
  line_item: LINE_ITEM_BIT,
  description: LINE_ITEM_BIT,
}

export const BILLED_GROUP_BY_NAMES = Object.keys(BILLED_GROUP_BY) as readonly string[]

/** The dimensions a billed row reports. */
export function billedPresent(r: { projectId: string | null; apiKeyId: string | null; lineItem: string | null }): number {
  return (r.projectId !== null ? SHAPE_BITS.project_id : 0) | (r.apiKeyId !== null ? SHAPE_BITS.api_key_id : 0) | (r.lineItem !== null ? LINE_ITEM_BIT : 0)
}

/** A request's declared `?group_by=` as shape bits (undefined: none declared, shapes come from the rows). */
export function declaredBilledShape(groupBy: readonly string[] | undefined): { mask: number; attributes: string[] } | undefined {
  if (!groupBy?.length) return undefined
  return { mask: groupBy.reduce((m, name) => m | (ownValue(BILLED_GROUP_BY, name) ?? 0), 0), attributes: [] }
}
