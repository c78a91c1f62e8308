import { TOKEN_COUNTERS, type TokenCounterKey } from '../db/token-columns.js'

/**
 * Reduces a usage row's counters (OpenAI's names, any subset present) to the token classes that
 * pricing needs. Counts only — cost is computed at query time. Rules (README "Token classes"):
 *
 * - A row is new-style iff it has `input_uncached_tokens`. Then
 *   input = cached + uncached + cache writes (5-minute + 1-hour), uncached = text + audio + image,
 *   cached = cached_text + cached_audio + cached_image.
 * - In old-style rows `input_audio_tokens` is uncached audio, `input_cached_tokens` is cached text, and
 *   input that no field explains is uncached text.
 * - output = output_text + output_audio + output_image; output no field explains is text.
 * - An identity is checked as equality when every term is present, as parts ≤ total otherwise; a row
 *   whose parts exceed its total is rejected, never "fixed". A missing total is the sum of its parts.
 */

export const COUNTER_FIELDS = [
  'num_model_requests',
  'input_tokens',
  'output_tokens',
  'input_cached_tokens',
  'input_cache_write_tokens',
  'input_cache_write_1h_tokens',
  'input_uncached_tokens',
  'input_text_tokens',
  'input_audio_tokens',
  'input_image_tokens',
  'input_cached_text_tokens',
  'input_cached_audio_tokens',
  'input_cached_image_tokens',
  'output_text_tokens',
  'output_audio_tokens',
  'output_image_tokens',
] as const

export type CounterField = (typeof COUNTER_FIELDS)[number]
export type RawCounters = Partial<Record<CounterField, number | null>>

export interface TokenClasses {
  requests: number | null
  inputTokens: number
  outputTokens: number
  inText: number
  inAudio: number
  inImage: number
  cachedText: number
  cachedAudio: number
  cachedImage: number
  cacheWrite: number
  /** One-hour cache writes (Anthropic); `cacheWrite` holds the 5-minute (and every unlabelled) kind. */
  cacheWrite1h: number
  outText: number
  outAudio: number
  outImage: number
}

export const TOKEN_CLASS_KEYS: readonly TokenCounterKey[] = TOKEN_COUNTERS.map((c) => c.key)

export interface FieldProblem {
  path: string
  message: string
}

export type Derivation = { ok: true; value: TokenClasses } | { ok: false, errors: FieldProblem[] }

const present = (v: number | null | undefined): v is number => typeof v === 'number'

// Only an error message needs it. Not a closure inside split: split runs three times per event and per
// CSV row, and under tsx (bench/lib/processes.ts runs the server through it) every closure created per
// call was also named with Object.defineProperty (esbuild's keepNames): 3 µs per event in a CPU profile.
function partNames(parts: Record<string, unknown>): string {
  return Object.keys(parts).join(' + ')
}

/**
 * Splits `total` into parts. Missing parts named in `remainderTo` take what the others leave; other
 * missing parts are 0. Returns the resolved parts, or a problem when they cannot fit.
 */
function split(
  totalField: string,
  total: number | null | undefined,
  parts: Record<string, number | null | undefined>,
  remainderTo: string,
  errors: FieldProblem[],
): { total: number; parts: Record<string, number> } {
  // One pass, no intermediate arrays: this runs three times per row of a million-row import.
  const out: Record<string, number> = {}
  let knownSum = 0
  let allPresent = true
  for (const k in parts) {
    const v = parts[k]
    if (present(v)) knownSum += v
    else allPresent = false
    out[k] = v ?? 0
  }
  if (!present(total)) return { total: knownSum, parts: out }
  if (allPresent && knownSum !== total) {
    errors.push({ path: totalField, message: `${totalField} (${total}) must equal ${partNames(parts)} (${knownSum})` })
  } else if (knownSum > total) {
    errors.push({ path: totalField, message: `${partNames(parts)} (${knownSum}) exceed ${totalField} (${total})` })
  } else if (!allPresent) {
    out[remainderTo] = (parts[remainderTo] ?? 0) + (total - knownSum)
  }
  return { total, parts: out }
}

export function deriveTokenClasses(c: RawCounters): Derivation {
  const errors: FieldProblem[] = []
  const newStyle = present(c.input_uncached_tokens)

  const cached = split(
    'input_cached_tokens',
    c.input_cached_tokens,
    {
      input_cached_text_tokens: c.input_cached_text_tokens,
      input_cached_audio_tokens: c.input_cached_audio_tokens,
      input_cached_image_tokens: c.input_cached_image_tokens,
    },
    'input_cached_text_tokens',
    errors,
  )
  const cacheWrite = c.input_cache_write_tokens ?? 0
  const cacheWrite1h = c.input_cache_write_1h_tokens ?? 0
  // Both durations of cache write are one term of the input identity; it is present if either is.
  const writesGiven = present(c.input_cache_write_tokens) || present(c.input_cache_write_1h_tokens)
  const writes = writesGiven ? cacheWrite + cacheWrite1h : undefined

  let uncached: { total: number; parts: Record<string, number> }
  let inputTokens: number
  if (newStyle) {
    uncached = split(
      'input_uncached_tokens',
      c.input_uncached_tokens,
      {
        input_text_tokens: c.input_text_tokens,
        input_audio_tokens: c.input_audio_tokens,
        input_image_tokens: c.input_image_tokens,
      },
      'input_text_tokens',
      errors,
    )
    // input = cached + uncached + cache_write; with cache_write absent, unexplained input is text.
    const input = split(
      'input_tokens',
      c.input_tokens,
      {
        input_cached_tokens: cached.total,
        input_uncached_tokens: uncached.total,
        input_cache_write_tokens: writes,
      },
      'input_cache_write_tokens',
      errors,
    )
    const unexplained = writesGiven ? 0 : input.parts.input_cache_write_tokens!
    uncached.parts.input_text_tokens! += unexplained
    inputTokens = input.total
  } else {
    // Old style: everything input that is not cached, cache write, audio or image is uncached text.
    const input = split(
      'input_tokens',
      c.input_tokens,
      {
        input_cached_tokens: cached.total,
        input_cache_write_tokens: cacheWrite + cacheWrite1h,
        input_audio_tokens: c.input_audio_tokens,
        input_image_tokens: c.input_image_tokens,
        input_text_tokens: c.input_text_tokens,
      },
      'input_text_tokens',
      errors,
    )
    uncached = {
      total: input.total - cached.total - cacheWrite - cacheWrite1h,
      parts: {
        input_text_tokens: input.parts.input_text_tokens!,
        input_audio_tokens: input.parts.input_audio_tokens!,
        input_image_tokens: input.parts.input_image_tokens!,
      },
    }
    inputTokens = input.total
  }

  const output = split(
    'output_tokens',
    c.output_tokens,
    {
      output_text_tokens: c.output_text_tokens,
      output_audio_tokens: c.output_audio_tokens,
      output_image_tokens: c.output_image_tokens,
    },
    'output_text_tokens',
    errors,
  )

  if (errors.length > 0) return { ok: false, errors }
  return {
    ok: true,
    value: {
      requests: c.num_model_requests ?? null,
      inputTokens,
      outputTokens: output.total,
      inText: uncached.parts.input_text_tokens!,
      inAudio: uncached.parts.input_audio_tokens!,
      inImage: uncached.parts.input_image_tokens!,
      cachedText: cached.parts.input_cached_text_tokens!,
      cachedAudio: cached.parts.input_cached_audio_tokens!,
      cachedImage: cached.parts.input_cached_image_tokens!,
      cacheWrite,
      cacheWrite1h,
      outText: output.parts.output_text_tokens!,
      outAudio: output.parts.output_audio_tokens!,
      outImage: output.parts.output_image_tokens!,
    },
  }
}

/** The counters OpenAI's newest export would show for these classes (used to write CSV back out). */
export function toOpenAICounters(t: TokenClasses): Record<CounterField, number | null> {
  const cached = t.cachedText + t.cachedAudio + t.cachedImage
  return {
    num_model_requests: t.requests,
    input_tokens: t.inputTokens,
    output_tokens: t.outputTokens,
    input_cached_tokens: cached,
    input_cache_write_tokens: t.cacheWrite,
    input_cache_write_1h_tokens: t.cacheWrite1h,
    input_uncached_tokens: t.inText + t.inAudio + t.inImage,
    input_text_tokens: t.inText,
    input_audio_tokens: t.inAudio,
    input_image_tokens: t.inImage,
    input_cached_text_tokens: t.cachedText,
    input_cached_audio_tokens: t.cachedAudio,
    input_cached_image_tokens: t.cachedImage,
    output_text_tokens: t.outText,
    output_audio_tokens: t.outAudio,
    output_image_tokens: t.outImage,
  }
}
