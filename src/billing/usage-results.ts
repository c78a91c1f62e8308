/**
 * Usage reports posted where bills go. An OpenAI usage page's results say so in `object`; an
 * Anthropic usage_report/messages page shares the cost_report's `starting_at` buckets, and its
 * results — token counts, no `amount` — were read as costs without an amount and skipped, so the
 * whole report answered 200 with nothing stored. Either is refused pointing to the usage endpoint.
 */

const USAGE_INGEST = 'POST /v1/usage/buckets'

/** The counters of an Anthropic usage_report/messages result, none of which a cost_report row has. */
const ANTHROPIC_USAGE_FIELDS = ['uncached_input_tokens', 'cache_read_input_tokens', 'cache_creation', 'output_tokens', 'server_tool_use']

/** What a result is if it is a usage result (for the problem's text), else undefined. */
export function usageResult(r: Record<string, unknown>, anthropic: boolean): string | undefined {
  if (typeof r.object === 'string' && r.object.startsWith('organization.usage.')) return `an OpenAI usage result (${r.object.slice(0, 60)})`
  if (!anthropic || r.amount !== undefined) return undefined
  const counters = ANTHROPIC_USAGE_FIELDS.filter((f) => f in r)
  return counters.length ? `an Anthropic usage report result (${counters.join(', ')})` : undefined
}

export const notCosts = (what: string) => `${what}, not a cost: usage reports are posted to ${USAGE_INGEST}`

/** The 400's detail when a body holds usage results. */
export const usageBodyDetail = (n: number) =>
  `the body holds ${n} usage result${n === 1 ? '' : 's'}, not billed costs: post usage reports to ${USAGE_INGEST}; nothing was written`
