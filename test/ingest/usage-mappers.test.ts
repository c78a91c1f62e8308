import { readFileSync } from 'node:fs'
import t from 'tap'
import { costToDecimal, mapUsage } from '../../src/ingest/events/usage-mappers.js'
import { deriveTokenClasses } from '../../src/ingest/token-classes.js'
import { fixturePath } from '../helpers.js'

// Realistic responses as the providers document them (values from their API references).
const openAiChat = {
  prompt_tokens: 1117,
  completion_tokens: 46,
  total_tokens: 1163,
  prompt_tokens_details: { cached_tokens: 1024, audio_tokens: 0 },
  completion_tokens_details: { reasoning_tokens: 12, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
}
const openAiAudioChat = {
  prompt_tokens: 300,
  completion_tokens: 500,
  total_tokens: 800,
  prompt_tokens_details: { cached_tokens: 0, audio_tokens: 250 },
  completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 420 },
}
const openAiResponses = {
  input_tokens: 328,
  input_tokens_details: { cached_tokens: 128 },
  output_tokens: 52,
  output_tokens_details: { reasoning_tokens: 40 },
  total_tokens: 380,
}
const anthropic = {
  input_tokens: 21,
  cache_creation_input_tokens: 188086,
  cache_read_input_tokens: 1500,
  output_tokens: 393,
  cache_creation: { ephemeral_5m_input_tokens: 188086, ephemeral_1h_input_tokens: 0 },
  service_tier: 'standard',
}

t.test('OpenAI Chat Completions: prompt total with cached text, reasoning recorded not added', async (t) => {
  const r = mapUsage('openai', openAiChat)
  t.ok(r.ok)
  if (!r.ok) return
  t.same(r.value.counters, { input_tokens: 1117, input_cached_tokens: 1024, input_audio_tokens: 0, output_tokens: 46, output_audio_tokens: 0 })
  t.equal(r.value.reasoningTokens, 12)
  t.equal(r.value.reportedCost, null)
  const classes = deriveTokenClasses(r.value.counters)
  t.ok(classes.ok)
  if (classes.ok) t.match(classes.value, { inputTokens: 1117, cachedText: 1024, inText: 1117 - 1024, outputTokens: 46, outText: 46 })
})

t.test('OpenAI Chat Completions with audio in and out', async (t) => {
  const r = mapUsage('openai', openAiAudioChat)
  t.ok(r.ok)
  if (!r.ok) return
  const classes = deriveTokenClasses(r.value.counters)
  t.ok(classes.ok)
  if (classes.ok) t.match(classes.value, { inputTokens: 300, inAudio: 250, inText: 50, outputTokens: 500, outAudio: 420, outText: 80 })
})

t.test('OpenAI Responses: told apart by field names', async (t) => {
  const r = mapUsage('openai', openAiResponses)
  t.ok(r.ok)
  if (!r.ok) return
  t.same(r.value.counters, { input_tokens: 328, input_cached_tokens: 128, output_tokens: 52 })
  t.equal(r.value.reasoningTokens, 40)
  const classes = deriveTokenClasses(r.value.counters)
  if (classes.ok) t.match(classes.value, { inputTokens: 328, cachedText: 128, inText: 200, outputTokens: 52, outText: 52 })
  else t.fail('derivation failed')
})

t.test('Anthropic: input_tokens is the uncached part; the total is the sum', async (t) => {
  const r = mapUsage('anthropic', anthropic)
  t.ok(r.ok)
  if (!r.ok) return
  const total = 21 + 188086 + 1500
  t.same(r.value.counters, {
    input_tokens: total,
    input_uncached_tokens: 21,
    input_cached_tokens: 1500,
    input_cache_write_tokens: 188086,
    input_cache_write_1h_tokens: 0,
    output_tokens: 393,
  })
  const classes = deriveTokenClasses(r.value.counters)
  if (classes.ok) t.match(classes.value, { inputTokens: total, inText: 21, cachedText: 1500, cacheWrite: 188086, outText: 393 })
  else t.fail('derivation failed')
})

t.test('Anthropic: cache_creation splits 5-minute and 1-hour writes; without it every write is 5-minute', async (t) => {
  const split = mapUsage('anthropic', { ...anthropic, cache_creation_input_tokens: 700, cache_creation: { ephemeral_5m_input_tokens: 200, ephemeral_1h_input_tokens: 500 } })
  t.ok(split.ok)
  if (split.ok) {
    t.match(split.value.counters, { input_tokens: 21 + 700 + 1500, input_cache_write_tokens: 200, input_cache_write_1h_tokens: 500 })
    const classes = deriveTokenClasses(split.value.counters)
    t.match(classes.ok && classes.value, { inputTokens: 21 + 700 + 1500, inText: 21, cacheWrite: 200, cacheWrite1h: 500 })
  }
  const { cache_creation: _, ...unsplit } = anthropic
  const old = mapUsage('anthropic', { ...unsplit, cache_creation_input_tokens: 700 })
  t.ok(old.ok)
  if (old.ok) t.match(old.value.counters, { input_cache_write_tokens: 700, input_cache_write_1h_tokens: 0 })
  const bad = mapUsage('anthropic', { ...anthropic, cache_creation_input_tokens: 9, cache_creation: { ephemeral_5m_input_tokens: 2, ephemeral_1h_input_tokens: 3 } })
  t.match(bad, { ok: false, errors: [{ path: 'usage.cache_creation_input_tokens', message: /add up to 5/ }] })
})

t.test('Anthropic: server-side web searches become a web_search_calls resource of the event', async (t) => {
  const r = mapUsage('anthropic', { ...anthropic, server_tool_use: { web_search_requests: 3 } })
  t.ok(r.ok)
  if (r.ok) t.same(r.value.resources, [{ resource: 'web_search_calls', quantity: '3', attributes: {}, from: 'usage.server_tool_use.web_search_requests' }])
  const none = mapUsage('anthropic', { ...anthropic, server_tool_use: { web_search_requests: 0 } })
  t.ok(none.ok && none.value.resources === undefined, 'no searches, no resource')
})

t.test('Anthropic with null cache fields (older responses)', async (t) => {
  const r = mapUsage('anthropic', { input_tokens: 10, output_tokens: 5, cache_creation_input_tokens: null, cache_read_input_tokens: null })
  t.ok(r.ok)
  if (r.ok) t.match(r.value.counters, { input_tokens: 10, input_uncached_tokens: 10, input_cached_tokens: 0, input_cache_write_tokens: 0 })
})

t.test('OpenRouter fixture as-is: cost and cache writes', async (t) => {
  const path = fixturePath(t, 'openrouter/openrouter_usage_examples.json')
  if (!path) return
  const fixture = JSON.parse(readFileSync(path, 'utf8')) as { chat_completion_usage: { usage: Record<string, unknown> } }
  const usage = fixture.chat_completion_usage.usage as {
    prompt_tokens: number
    completion_tokens: number
    cost: number
    prompt_tokens_details: { cached_tokens: number; cache_write_tokens: number; audio_tokens: number }
  }
  const r = mapUsage('openrouter', usage)
  t.ok(r.ok)
  if (!r.ok) return
  t.equal(r.value.reportedCost, String(usage.cost))
  t.equal(r.value.reasoningTokens, 0)
  t.equal(r.value.counters.input_cache_write_tokens, usage.prompt_tokens_details.cache_write_tokens)
  const classes = deriveTokenClasses(r.value.counters)
  if (!classes.ok) return t.fail('derivation failed')
  const d = usage.prompt_tokens_details
  t.match(classes.value, {
    inputTokens: usage.prompt_tokens,
    cacheWrite: d.cache_write_tokens,
    cachedText: d.cached_tokens,
    inAudio: d.audio_tokens,
    inText: usage.prompt_tokens - d.cache_write_tokens - d.cached_tokens - d.audio_tokens,
    outputTokens: usage.completion_tokens,
  })
})

t.test('numeric cost becomes its shortest round-trip decimal, in plain notation', async (t) => {
  t.equal(costToDecimal(0.95), '0.95')
  t.equal(costToDecimal(1e-7), '0.0000001')
  t.equal(costToDecimal(0.1 + 0.2), '0.30000000000000004')
  t.equal(costToDecimal(19), '19')
  t.equal(costToDecimal(1.5e21), '1500000000000000000000')
})

t.test('bad raw usage objects are reported field by field', async (t) => {
  const unknown = mapUsage('mistral', openAiChat)
  t.notOk(unknown.ok)
  const mixed = mapUsage('openai', { prompt_tokens: 1, input_tokens: 1 })
  t.notOk(mixed.ok)
  const empty = mapUsage('openai', { total_tokens: 3 })
  t.notOk(empty.ok)
  const bad = mapUsage('openai', { prompt_tokens: -1, completion_tokens: 1.5, prompt_tokens_details: 3 })
  t.same(bad.ok ? [] : bad.errors.map((e) => e.path).sort(), [
    'usage.completion_tokens',
    'usage.prompt_tokens',
    'usage.prompt_tokens_details',
  ])
  const cost = mapUsage('openrouter', { prompt_tokens: 1, completion_tokens: 1, cost: '0.1' })
  t.same(cost.ok ? [] : cost.errors.map((e) => e.path), ['usage.cost'])
  const notObject = mapUsage('openai', [1, 2])
  t.notOk(notObject.ok)
})

t.test('a provider named after an Object property has no mapper (was a TypeError, a 500)', async (t) => {
  for (const provider of ['constructor', '__proto__', 'hasOwnProperty', 'toString', 'valueOf']) {
    const r = mapUsage(provider, openAiChat)
    t.match(r, { ok: false, errors: [{ path: 'usage', message: /no usage mapper for provider/ }] }, provider)
  }
})

t.test('total_tokens, where given, must be input + output (Chat, Responses, OpenRouter); the event is refused naming it', async (t) => {
  const chat = mapUsage('openai', { ...openAiChat, total_tokens: 1164 })
  t.same(chat.ok ? [] : chat.errors, [{ path: 'usage.total_tokens', message: 'is 1164 but prompt_tokens + completion_tokens add up to 1163' }])
  const responses = mapUsage('azure', { ...openAiResponses, total_tokens: 328 })
  t.same(responses.ok ? [] : responses.errors, [{ path: 'usage.total_tokens', message: 'is 328 but input_tokens + output_tokens add up to 380' }])
  const router = mapUsage('openrouter', { prompt_tokens: 194, completion_tokens: 2, total_tokens: 19 })
  t.same(router.ok ? [] : router.errors.map((e) => e.path), ['usage.total_tokens'])
  const notCount = mapUsage('openai', { prompt_tokens: 1, completion_tokens: 1, total_tokens: '2' })
  t.same(notCount.ok ? [] : notCount.errors.map((e) => e.path), ['usage.total_tokens'])
  // A part already refused is named alone, not again as a total that does not add up.
  const badPart = mapUsage('openai', { prompt_tokens: -1, completion_tokens: 1, total_tokens: 5 })
  t.same(badPart.ok ? [] : badPart.errors.map((e) => e.path), ['usage.prompt_tokens'])
  // Agreeing totals, absent and null totals, and the documented examples all map.
  for (const u of [openAiChat, openAiAudioChat, openAiResponses, { prompt_tokens: 3, completion_tokens: 4 }, { prompt_tokens: 3, completion_tokens: 4, total_tokens: null }])
    t.ok(mapUsage('openai', u).ok, JSON.stringify(u))
  const path = fixturePath(t, 'openrouter/openrouter_usage_examples.json')
  if (!path) return
  const fixture = JSON.parse(readFileSync(path, 'utf8')) as { chat_completion_usage: { usage: unknown } }
  t.ok(mapUsage('openrouter', fixture.chat_completion_usage.usage).ok)
})
