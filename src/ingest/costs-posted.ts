/**
 * Billed costs posted where usage goes: an Anthropic cost_report page, an OpenAI costs page or the
 * OpenAI dashboard cost export. Each is refused naming the costs endpoint, nothing written.
 */

const COSTS_INGEST = 'POST /v1/billing/costs'

/** The 400's detail: what the body is and where it belongs. */
export const costsBodyDetail = (what: string) => `the body is ${what}: store billed costs with ${COSTS_INGEST}; nothing was written`

/** A problem's message: why the part it names is costs, not usage. */
export const notUsage = (why: string) => `${why}, not usage: post it to ${COSTS_INGEST}`
