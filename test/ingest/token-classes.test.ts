import fc from 'fast-check'
import t from 'tap'
import { deriveTokenClasses, type RawCounters } from '../../src/ingest/token-classes.js'

const count = fc.integer({ min: 0, max: 1_000_000 })
const classesArb = fc.record({
  inText: count,
  inAudio: count,
  inImage: count,
  cachedText: count,
  cachedAudio: count,
  cachedImage: count,
  cacheWrite: count,
  outText: count,
  outAudio: count,
  outImage: count,
  requests: fc.option(count, { nil: null }),
})
type Classes = typeof classesArb extends fc.Arbitrary<infer T> ? T : never

/** The newest OpenAI field set for these classes, totals computed by plain addition. */
function newStyle(c: Classes): RawCounters {
  const cached = c.cachedText + c.cachedAudio + c.cachedImage
  const uncached = c.inText + c.inAudio + c.inImage
  return {
    num_model_requests: c.requests,
    input_tokens: cached + uncached + c.cacheWrite,
    input_cached_tokens: cached,
    input_cache_write_tokens: c.cacheWrite,
    input_uncached_tokens: uncached,
    input_text_tokens: c.inText,
    input_audio_tokens: c.inAudio,
    input_image_tokens: c.inImage,
    input_cached_text_tokens: c.cachedText,
    input_cached_audio_tokens: c.cachedAudio,
    input_cached_image_tokens: c.cachedImage,
    output_tokens: c.outText + c.outAudio + c.outImage,
    output_text_tokens: c.outText,
    output_audio_tokens: c.outAudio,
    output_image_tokens: c.outImage,
  }
}

const inputSum = (v: Record<string, number | null>) =>
  (['inText', 'inAudio', 'inImage', 'cachedText', 'cachedAudio', 'cachedImage', 'cacheWrite'] as const).reduce((s, k) => s + (v[k] ?? 0), 0)

t.test('a complete new-style row yields exactly the classes it was built from', async () => {
  fc.assert(
    fc.property(classesArb, (c) => {
      const d = deriveTokenClasses(newStyle(c))
      if (!d.ok) return false
      const v = d.value
      return (
        v.inText === c.inText && v.inAudio === c.inAudio && v.inImage === c.inImage && v.cachedText === c.cachedText &&
        v.cachedAudio === c.cachedAudio && v.cachedImage === c.cachedImage && v.cacheWrite === c.cacheWrite &&
        v.outText === c.outText && v.outAudio === c.outAudio && v.outImage === c.outImage && v.requests === c.requests
      )
    }),
  )
})

t.test('dropping breakdown fields keeps the totals and conserves tokens across classes', async () => {
  const optional = ['input_cache_write_tokens', 'input_text_tokens', 'input_audio_tokens', 'input_image_tokens', 'input_cached_text_tokens',
    'input_cached_audio_tokens', 'input_cached_image_tokens', 'output_text_tokens', 'output_audio_tokens', 'output_image_tokens'] as const
  fc.assert(
    fc.property(classesArb, fc.subarray([...optional]), (c, drop) => {
      const row = newStyle(c)
      for (const f of drop) delete row[f]
      const d = deriveTokenClasses(row)
      if (!d.ok) return false
      const v = d.value as unknown as Record<string, number>
      return (
        v.inputTokens === row.input_tokens && v.outputTokens === row.output_tokens &&
        inputSum(v) === v.inputTokens && v.outText! + v.outAudio! + v.outImage! === v.outputTokens &&
        Object.values(v).every((x) => x === null || x >= 0)
      )
    }),
  )
})

t.test('a part larger than its total is rejected, naming the total, never fixed', async () => {
  fc.assert(
    fc.property(classesArb, fc.integer({ min: 1, max: 1000 }), fc.constantFrom('input_cached_tokens', 'output_text_tokens', 'input_text_tokens'), (c, extra, field) => {
      const row = newStyle(c)
      row[field] = (row[field] ?? 0) + extra
      const d = deriveTokenClasses(row)
      return !d.ok && d.errors.length > 0
    }),
  )
})

t.test('old-style rows: unexplained input is uncached text, cached is cached text, audio is uncached audio', async () => {
  fc.assert(
    fc.property(count, count, count, count, count, (text, cached, audio, outText, outAudio) => {
      const d = deriveTokenClasses({
        input_tokens: text + cached + audio,
        input_cached_tokens: cached,
        input_audio_tokens: audio,
        output_tokens: outText + outAudio,
        output_audio_tokens: outAudio,
      })
      return d.ok && d.value.inText === text && d.value.cachedText === cached && d.value.inAudio === audio &&
        d.value.outText === outText && d.value.outAudio === outAudio && d.value.cacheWrite === 0
    }),
  )
})

t.test('the pre-2026-07 example shape: cached 800 of 1000', async (t) => {
  const d = deriveTokenClasses({ input_tokens: 1000, output_tokens: 500, input_cached_tokens: 800, input_audio_tokens: 0, output_audio_tokens: 0 })
  t.match(d, { ok: true, value: { inText: 200, cachedText: 800, outText: 500 } })
})

t.test('a broken identity names its total and its parts, in both wordings', async (t) => {
  t.same(deriveTokenClasses({ output_tokens: 10, output_text_tokens: 4, output_audio_tokens: 3, output_image_tokens: 2 }), {
    ok: false,
    errors: [{ path: 'output_tokens', message: 'output_tokens (10) must equal output_text_tokens + output_audio_tokens + output_image_tokens (9)' }],
  })
  t.same(deriveTokenClasses({ input_tokens: 5, input_cached_tokens: 2, input_uncached_tokens: 1, input_text_tokens: 4 }), {
    ok: false,
    errors: [{ path: 'input_uncached_tokens', message: 'input_text_tokens + input_audio_tokens + input_image_tokens (4) exceed input_uncached_tokens (1)' }],
  })
})
