import { readFileSync } from 'node:fs'
import t from 'tap'
import { bearer, build, eachEngine, fixturePath, tenantWithKey } from '../helpers.js'

// OpenRouter answers in both OpenAI shapes: Chat Completions (prompt_tokens_details.cache_write_tokens,
// as in the fixture) and Responses (input_tokens_details.cache_write_tokens). One call reported in
// either shape is the same usage: its cache writes land in the same class, priced as cache writes.

interface OrUsage {
  prompt_tokens: number
  completion_tokens: number
  cost: number
  prompt_tokens_details: { cached_tokens: number; cache_write_tokens: number; audio_tokens: number }
  completion_tokens_details: { reasoning_tokens: number }
}

/** The fixture's usage written with the Responses API's field names. */
const asResponses = (u: OrUsage) => ({
  input_tokens: u.prompt_tokens,
  input_tokens_details: { cached_tokens: u.prompt_tokens_details.cached_tokens, cache_write_tokens: u.prompt_tokens_details.cache_write_tokens },
  output_tokens: u.completion_tokens,
  output_tokens_details: { reasoning_tokens: u.completion_tokens_details.reasoning_tokens },
  total_tokens: u.prompt_tokens + u.completion_tokens,
  cost: u.cost,
})

const CLASSES = ['input_tokens', 'in_text', 'in_audio', 'cached_text', 'cache_write', 'output_tokens', 'out_text', 'reported_cost'] as const

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key, tenantId } = await tenantWithKey(app)
  const path = fixturePath(t, 'openrouter/openrouter_usage_examples.json')
  if (!path) return
  const chat = (JSON.parse(readFileSync(path, 'utf8')) as { chat_completion_usage: { usage: OrUsage } }).chat_completion_usage.usage
  const writes = chat.prompt_tokens_details.cache_write_tokens
  t.ok(writes > 0, 'the fixture reports cache writes')
  // Audio is a Chat-only breakdown; the fixture's is 0, so both shapes describe the same tokens.
  t.equal(chat.prompt_tokens_details.audio_tokens, 0)

  const stored = async (id: string) => {
    const [row] = await app.testDb.query<Record<string, unknown>>(
      `select ${CLASSES.join(', ')} from usage_events where tenant_id = $1 and id = $2`,
      [tenantId, id],
    )
    return row
  }

  t.test('cache writes of the Chat and the Responses shape are stored in the same class', async (t) => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/usage/events',
      headers: bearer(key),
      payload: {
        events: [
          { id: 'or-chat', timestamp: '2026-03-01T10:15:00Z', model: 'anthropic/claude-sonnet-4.5', provider: 'openrouter', usage: chat },
          { id: 'or-responses', timestamp: '2026-03-01T10:15:00Z', model: 'anthropic/claude-sonnet-4.5', provider: 'openrouter', usage: asResponses(chat) },
        ],
      },
    })
    t.equal(res.statusCode, 200, res.body)
    t.same((res.json() as { results: { status: string }[] }).results.map((r) => r.status), ['created', 'created'], res.body)
    const c = await stored('or-chat')
    const r = await stored('or-responses')
    t.match(c, { cache_write: writes, input_tokens: chat.prompt_tokens })
    t.match(r, { cache_write: writes, input_tokens: chat.prompt_tokens }, 'the Responses shape keeps its cache writes')
    t.same(r, c, 'every class equal')
  })

  t.test('usage counts both events\' cache writes', async (t) => {
    const res = await app.inject({
      method: 'POST',
      url: '/graphql',
      headers: bearer(key),
      payload: {
        query: `{ usage(from: "2026-03-01T00:00:00Z", to: "2026-03-02T00:00:00Z", window: TOTAL, filter: { sources: ["events"], providers: ["openrouter"] }) { totals { inputTokens cacheWriteTokens } } }`,
      },
    })
    const body = res.json() as { data: { usage: { totals: { inputTokens: number; cacheWriteTokens: number } } }; errors?: unknown }
    t.equal(body.errors, undefined, res.body)
    t.same(body.data.usage.totals, { inputTokens: 2 * chat.prompt_tokens, cacheWriteTokens: 2 * writes })
  })
})
