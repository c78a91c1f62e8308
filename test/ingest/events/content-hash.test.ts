import { createHash } from 'node:crypto'
import fc from 'fast-check'
import t, { type Test } from 'tap'
import { canonicalJson, contentHash, normalizeEvent, type NormalizedEvent } from '../../../src/ingest/events/normalize-event.js'

// Stored content hashes decide idempotency (same id + same content = duplicate, different = rejected),
// so the hash may never change for any event. The reference is the generic serialisation the hash was
// first defined by, kept here verbatim: sorted keys at every depth, undefined members left out.
function referenceJson(value: unknown): string {
  if (value instanceof Date) return JSON.stringify(value.toISOString())
  if (Array.isArray(value)) return `[${value.map(referenceJson).join(',')}]`
  if (typeof value === 'object' && value !== null) {
    const entries = Object.keys(value)
      .sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${referenceJson((value as Record<string, unknown>)[k])}`)
    return `{${entries.join(',')}}`
  }
  return JSON.stringify(value)
}

const referenceHash = (e: NormalizedEvent) => createHash('sha256').update(referenceJson(e)).digest('hex')

// Resources are a set: the hash takes them ordered by their serialisation. The order sent gives the hash
// every event was stored under before (still accepted from a retry in that order: sentOrderHash).
const bySerialisation = (a: unknown, b: unknown) => (referenceJson(a) < referenceJson(b) ? -1 : referenceJson(a) > referenceJson(b) ? 1 : 0)
const setHash = (e: NormalizedEvent) => referenceHash(e.resources ? { ...e, resources: [...e.resources].sort(bySerialisation) } : e)

const base = { id: 'e-1', timestamp: '2026-03-01T10:15:00Z', model: 'gpt-4o', input_tokens: 10, output_tokens: 2 }

const EVENTS: [string, Record<string, unknown>][] = [
  ['minimal', base],
  ['every dimension, batch tier, reported cost', {
    ...base, provider: 'OpenAI', account_id: 'acct', project_id: 'proj', user_id: 'user', api_key_id: 'key',
    service_tier: 'batch', endpoint: '/v1/chat/completions', request_type: 'chat', session_id: 's',
    employee_id: 'emp', agent_id: 'agent', reported_cost: '0.012300',
  }],
  ['batch false, a named tier', { ...base, batch: false, service_tier: 'Flex' }],
  ['labels with unsorted, numeric and unicode keys', {
    ...base, labels: { zeta: '1', 10: 'ten', 2: 'two', Alpha: 'A', alpha: 'a', é: 'accent', 日本: '語', '🙂': '', 'a"b\\c': 'quo"te' },
  }],
  ['metadata nested with unsorted keys, arrays, numbers and escapes', {
    ...base,
    metadata: {
      z: { y: [3, { b: 2, a: 1 }, null, 'x'], x: { d: { c: true, b: false } } },
      a: 1.5e-7, big: 1e21, neg: -0, int: 12345678901234,
      text: 'line\nbreak\ttab "quoted" back\\slash \u0001 \u2028 \u2029 ünïcødé 😀',
      '': 'empty key', 1: 'numeric key', arr: [[], {}, [{}]],
    },
  }],
  ['metadata with undefined members at several depths', { ...base, metadata: { keep: 1, drop: undefined, deep: { gone: undefined, here: 'x' }, list: [undefined, 1] } }],
  ['undefined and null optional fields', {
    ...base, provider: undefined, project_id: undefined, user_id: null, labels: null, metadata: null, service_tier: null,
    batch: undefined, reported_cost: null,
  }],
  ['resources with attributes', {
    ...base,
    resources: [
      { resource: 'web_search', quantity: 3, attributes: { z: '1', a: '2' } },
      { resource: 'images', quantity: '0.50', attributes: {} },
      { resource: 'web_search', quantity: 3, attributes: { a: '2', z: '1' } },
    ],
  }],
  ['resources instead of tokens', { id: 'e-2', timestamp: 1772323200, model: 'm', resources: [{ resource: 'code_interpreter_sessions', quantity: 1 }] }],
  ['unix-seconds timestamp', { ...base, timestamp: 1772323200 }],
  ['timestamp with fraction and offset', { ...base, timestamp: '2026-03-01T11:45:00.123456+01:30' }],
  ['raw OpenAI usage with reasoning', {
    id: 'e-3', timestamp: base.timestamp, model: 'o4-mini',
    usage: { prompt_tokens: 800, completion_tokens: 90, prompt_tokens_details: { cached_tokens: 256 }, completion_tokens_details: { reasoning_tokens: 40 } },
  }],
  ['raw Anthropic usage with 1-hour cache writes', {
    id: 'e-4', timestamp: base.timestamp, model: 'claude-sonnet-4', provider: 'anthropic',
    usage: { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 100, cache_creation_input_tokens: 700, cache_creation: { ephemeral_5m_input_tokens: 200, ephemeral_1h_input_tokens: 500 } },
  }],
  ['raw OpenRouter usage with cost', { id: 'e-5', timestamp: base.timestamp, model: 'x', provider: 'openrouter', usage: { prompt_tokens: 5, completion_tokens: 1, cost: 0.00042 } }],
  ['every token counter', {
    ...base, input_tokens: 100, input_uncached_tokens: 60, input_text_tokens: 50, input_audio_tokens: 6, input_image_tokens: 4,
    input_cached_tokens: 30, input_cached_text_tokens: 20, input_cached_audio_tokens: 5, input_cached_image_tokens: 5,
    input_cache_write_tokens: 7, input_cache_write_1h_tokens: 3, output_tokens: 9, output_text_tokens: 5,
    output_audio_tokens: 2, output_image_tokens: 2, num_model_requests: 1,
  }],
  ['unicode in every text dimension', { ...base, id: 'ïd-😀', model: 'mödel "x"', project_id: 'проект', endpoint: '/v1/\u00e9\\' }],
]

function valid(t: Test, item: Record<string, unknown>): NormalizedEvent {
  const n = normalizeEvent(item)
  if (!n.ok) throw new Error(`${t.name}: invalid ${JSON.stringify(n.errors)}`)
  return n.event
}

t.test('the content hash equals the generic sorted-keys hash for a table of varied events', async (t) => {
  for (const [name, item] of EVENTS) {
    const event = valid(t, item)
    t.equal(contentHash(event), setHash(event), name)
    const n = normalizeEvent(item)
    t.equal(n.ok && n.hash, setHash(event), `${name}: normalizeEvent's hash`)
    t.equal(n.ok && (n.sentOrderHash ?? n.hash), referenceHash(event), `${name}: the hash of the order sent, as stored before`)
  }
})

t.test('resources in any order hash the same; the order sent is kept, and so is its hash', async (t) => {
  const [, item] = EVENTS.find(([name]) => name === 'resources with attributes')!
  const resources = item.resources as unknown[]
  const sent = normalizeEvent(item)
  const rotated = normalizeEvent({ ...item, resources: [...resources.slice(1), resources[0]] })
  if (!sent.ok || !rotated.ok) throw new Error('invalid')
  t.equal(rotated.hash, sent.hash)
  t.not(sent.sentOrderHash, undefined, 'the order sent is not the canonical one')
  t.not(sent.sentOrderHash, rotated.sentOrderHash)
  t.same(sent.event.resources!.map((r) => r.resource), ['web_search', 'images', 'web_search'], 'the event keeps the order sent')
  const other = normalizeEvent({ ...item, resources: [...resources.slice(1)] })
  t.not(other.ok && other.hash, sent.hash, 'fewer resources are other content')
})

t.test('an event with every optional member present hashes as the reference', async (t) => {
  // A member the fixed order forgot, or put out of order, would show here.
  const [, item] = EVENTS.find(([name]) => name === 'every dimension, batch tier, reported cost')!
  const event = valid(t, {
    ...item, input_tokens: undefined, output_tokens: undefined, labels: { a: 'b' }, metadata: { m: 1 },
    usage: { prompt_tokens: 9, completion_tokens: 4, completion_tokens_details: { reasoning_tokens: 2 } },
    resources: [{ resource: 'web_search', quantity: 1 }],
  })
  t.same(Object.entries(event).filter(([, v]) => v === null || v === undefined), [], 'no member is null or undefined')
  t.equal(contentHash(event), referenceHash(event))
})

t.test('a member left undefined is omitted, as the generic serialisation omits it', async (t) => {
  const event = valid(t, { ...base, labels: { a: '1' } })
  for (const key of Object.keys(event) as (keyof NormalizedEvent)[]) {
    const without = { ...event, [key]: undefined } as unknown as NormalizedEvent
    t.equal(contentHash(without), referenceHash(without), `${key} undefined`)
  }
})

t.test('bench row 3 events hash as before', async (t) => {
  const { event } = await import('../../../bench/lib/data.js')
  for (let i = 0; i < 200; i++) {
    const e = valid(t, event(`ev-${i}`, i))
    if (contentHash(e) !== referenceHash(e)) return t.fail(`event ${i}`)
  }
  t.pass('200 events')
})

t.test('canonicalJson gives the reference text for any JSON-like value', async (t) => {
  const value = fc.letrec((tie) => ({
    any: fc.oneof({ depthSize: 'small' }, fc.jsonValue({ maxDepth: 1 }), fc.constant(undefined), fc.date({ noInvalidDate: true }), tie('arr'), tie('obj')),
    arr: fc.array(tie('any'), { maxLength: 4 }),
    obj: fc.dictionary(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.constantFrom('1', '10', '2', '__proto__x', '')), tie('any'), { maxKeys: 6 }),
  })).any
  fc.assert(fc.property(value, (v) => canonicalJson(v) === referenceJson(v)), { numRuns: 2000 })
  t.pass('2,000 values')
})

t.test('random events hash as the reference does', async (t) => {
  const text = fc.oneof(fc.string({ minLength: 1, maxLength: 8 }), fc.constantFrom('é', '日本', '😀', 'a"b', 'x\\y'))
  const item = fc.record(
    {
      project_id: fc.option(text, { nil: undefined }),
      user_id: fc.option(text),
      session_id: fc.option(text, { nil: undefined }),
      batch: fc.option(fc.boolean()),
      labels: fc.option(fc.dictionary(text, fc.string({ maxLength: 5 }), { maxKeys: 4 })),
      metadata: fc.option(fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 })),
      input_tokens: fc.nat({ max: 1_000_000 }),
      output_tokens: fc.option(fc.nat({ max: 1000 }), { nil: undefined }),
      reported_cost: fc.option(fc.constantFrom('0', '0.5', '12.340'), { nil: undefined }),
    },
    { requiredKeys: ['input_tokens'] },
  )
  let checked = 0
  fc.assert(
    fc.property(item, (extra) => {
      const n = normalizeEvent({ id: 'r', timestamp: base.timestamp, model: 'gpt-4o', ...extra })
      if (!n.ok) return true
      checked++
      return n.hash === referenceHash(n.event)
    }),
    { numRuns: 1000 },
  )
  t.ok(checked > 500, `${checked} valid events compared`)
})
