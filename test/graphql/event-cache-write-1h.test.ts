import t from 'tap'
import { bearer, build, eachEngine, graphqlData, postCreatedEvents, tenantWithKey } from '../helpers.js'

/**
 * Contract v2 "Counters and dimensions, extended": `cacheWriteTokens` includes both kinds of cache write and
 * rows and totals gain `cacheWrite1hTokens`. An event is a row of `events`: with Anthropic's 1-hour writes
 * inside its `cacheWriteTokens` (priced at the 1-hour price), the row says how many were 1-hour ones, as
 * the page's totals and every `usage` row do.
 */

const AT = '2025-08-01T10:00:00Z'
const usage = (h5: number, h1: number) => ({
  input_tokens: 100, output_tokens: 10, cache_read_input_tokens: 0,
  cache_creation_input_tokens: h5 + h1, cache_creation: { ephemeral_5m_input_tokens: h5, ephemeral_1h_input_tokens: h1 },
})
const EVENTS = [
  { id: 'long-cache', timestamp: AT, provider: 'anthropic', model: 'claude-sonnet-4-20250514', usage: usage(500, 1000) },
  { id: 'short-cache', timestamp: AT, provider: 'anthropic', model: 'claude-sonnet-4-20250514', usage: usage(300, 0) },
]
const QUERY = `{ events(period: ALL, orderBy: TIME_ASC) { rows { id cacheWriteTokens cacheWrite1hTokens } totals { cacheWriteTokens cacheWrite1hTokens } } }`

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key } = await tenantWithKey(app, ['ingest', 'read'])
  await postCreatedEvents(t, app, bearer(key), EVENTS)

  const { events } = await graphqlData<{ events: { rows: unknown[]; totals: unknown } }>(t, app, bearer(key), QUERY)
  t.same(events.rows, [
    { id: 'long-cache', cacheWriteTokens: 1500, cacheWrite1hTokens: 1000 },
    { id: 'short-cache', cacheWriteTokens: 300, cacheWrite1hTokens: 0 },
  ], 'each event says how many of its cache writes were 1-hour ones')
  t.same(events.totals, { cacheWriteTokens: 1800, cacheWrite1hTokens: 1000 }, 'the rows add up to the totals')
})
