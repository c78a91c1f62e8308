import t from 'tap'
import { createHash } from 'node:crypto'
import { canonicalJson, metadataJson, normalizeEvent } from '../../../src/ingest/events/normalize-event.js'
import { parseTimestamp } from '../../../src/ingest/events/timestamp.js'

const base = { id: 'e-1', timestamp: '2026-03-01T10:15:00Z', model: 'gpt-4o', input_tokens: 10, output_tokens: 2 }

t.test('accepts RFC 3339 with offsets and fractions, and unix seconds, as the same instant', async (t) => {
  const want = Date.UTC(2026, 2, 1, 10, 15, 0)
  t.equal(parseTimestamp('2026-03-01T10:15:00Z')?.getTime(), want)
  t.equal(parseTimestamp('2026-03-01T11:45:00+01:30')?.getTime(), want)
  t.equal(parseTimestamp('2026-03-01T05:15:00-05:00')?.getTime(), want)
  // Contract v2 "Times": no space separator, and unix seconds are whole (digits only).
  t.equal(parseTimestamp('2026-03-01 05:15:00-05:00'), undefined)
  t.equal(parseTimestamp('2026-03-01T10:15:00.123456Z')?.getTime(), want + 123)
  t.equal(parseTimestamp(want / 1000)?.getTime(), want)
  t.equal(parseTimestamp(want / 1000 + 0.5), undefined)
})

t.test('refuses impossible or out-of-range date-times instead of rolling them over', async (t) => {
  for (const bad of ['2026-02-30T00:00:00Z', '2025-02-29T00:00:00Z', '2026-13-01T00:00:00Z', '2026-03-01T24:00:00Z',
    '2026-03-01T10:60:00Z', '2026-03-01T10:15:60Z', '2026-03-01T10:15:00', '2026-03-01', '0050-01-01T00:00:00Z',
    '1969-12-31T23:59:59Z', 'yesterday'])
    t.equal(parseTimestamp(bad), undefined, bad)
  t.equal(parseTimestamp(-1), undefined)
  t.equal(parseTimestamp(253402300800), undefined)
  t.ok(parseTimestamp('2024-02-29T00:00:00Z'), 'leap day')
})

t.test('equal content hashes equal however it is written', async (t) => {
  const a = normalizeEvent({ ...base, labels: { a: '1', b: '2' }, metadata: { x: { p: 1, q: 2 } }, service_tier: null })
  const b = normalizeEvent({
    output_tokens: 2,
    metadata: { x: { q: 2, p: 1 } },
    labels: { b: '2', a: '1' },
    model: 'gpt-4o',
    input_tokens: 10,
    timestamp: Date.UTC(2026, 2, 1, 10, 15) / 1000,
    id: 'e-1',
    service_tier: 'standard',
    provider: 'OpenAI',
  })
  const c = normalizeEvent({ ...base, labels: { a: '1', b: '3' }, metadata: { x: { p: 1, q: 2 } } })
  if (!a.ok || !b.ok || !c.ok) return t.fail('all three are valid')
  t.equal(a.hash, b.hash)
  t.not(a.hash, c.hash)
  t.match(a.hash, /^[0-9a-f]{64}$/)
})

t.test('raw usage and the equivalent counters are the same content', async (t) => {
  const raw = normalizeEvent({ ...base, input_tokens: undefined, output_tokens: undefined, usage: { prompt_tokens: 10, completion_tokens: 2 } })
  const counters = normalizeEvent(base)
  if (!raw.ok || !counters.ok) return t.fail('both valid')
  t.equal(raw.hash, counters.hash)
})

t.test('rejects NUL characters anywhere, which PostgreSQL cannot store', async (t) => {
  const r = normalizeEvent({ ...base, id: 'a\u0000b', metadata: { note: { deep: 'x\u0000' } }, labels: { 'k\u0000': 'v' } })
  t.same(r.ok ? [] : r.errors.map((e) => e.path).sort(), ['id', 'labels', 'metadata'])
})

t.test('names every problem of an item at once', async (t) => {
  const r = normalizeEvent({ id: '', model: 7, timestamp: '2026-02-30T00:00:00Z', labels: { a: 1 }, extra: true, batch: false, service_tier: 'batch' })
  t.same(r.ok ? [] : r.errors.map((e) => e.path).sort(), ['batch', 'extra', 'id', 'labels.a', 'model', 'timestamp'])
})

t.test('an event is one request', async (t) => {
  const one = normalizeEvent({ ...base, num_model_requests: 1 })
  t.ok(one.ok)
  if (one.ok) t.equal(one.event.tokens.requests, 1)
  const many = normalizeEvent({ ...base, num_model_requests: 3 })
  t.same(many.ok ? [] : many.errors.map((e) => e.path), ['num_model_requests'])
})

// The metadata text is serialised once and used for the size limit, the content hash and the stored column
// (it was JSON.stringify twice and canonicalJson once): it must hold the same value, in the same bytes.
t.test('metadata is measured, hashed and stored from one text with the value sent', async (t) => {
  const metadata = { z: [1, 2.5, { b: 'é😀', a: null }], a: { y: true, x: -0.001 }, '': 'empty key', ü: '\u2028 "q" \\' }
  const n = normalizeEvent({ id: 'm', timestamp: '2026-03-01T10:00:00Z', model: 'gpt-4o', input_tokens: 1, metadata })
  if (!n.ok) return t.fail(JSON.stringify(n.errors))
  const text = metadataJson(n.event.metadata!)
  t.same(JSON.parse(text), metadata, 'the same value')
  t.equal(Buffer.byteLength(text), Buffer.byteLength(JSON.stringify(metadata)), 'the bytes the limit measures')
  t.equal(text, canonicalJson(metadata), 'keys sorted, as the content hash holds them')
  t.equal(metadataJson(n.event.metadata!), text, 'the same text every time')
  t.equal(n.hash, createHash('sha256').update(canonicalJson(n.event)).digest('hex'), 'the hash is the generic one')
})
