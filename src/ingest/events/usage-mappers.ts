import { Decimal } from 'decimal.js'
import { tier as anthropicTier } from '../anthropic-usage.js'
import type { FieldProblem, RawCounters } from '../token-classes.js'
import { parseJsonDimension } from '../values.js'

/**
 * Maps a provider's raw response `usage` object to OpenAI's bucket counters. The mapper is chosen by
 * the event's `provider`; within OpenAI (and OpenRouter, which proxies both) the shape is told apart
 * by field names: Chat Completions has `prompt_tokens`, Responses has `input_tokens`.
 *
 * Reasoning tokens are returned for information only: every provider here counts them inside output.
 * Extra fields are ignored, because providers add fields without notice.
 */

export interface MappedUsage {
  counters: RawCounters
  reasoningTokens: number | null
  /** OpenRouter's `cost`, as its shortest round-trip decimal text. */
  reportedCost: string | null
  /** Non-token usage the raw object reports (Anthropic's server-side web searches), each with the field it came from. */
  resources?: { resource: string; quantity: string; attributes: Record<string, string>; from: string }[]
  /**
   * The tier the call was served at, where the raw object says (Anthropic's `service_tier`), folded as
   * Anthropic's usage reports are (`batch` stays `batch`: the event's tier rule makes it the batch flag).
   */
  serviceTier?: string
  /** Where the call was served, as the raw object says (Anthropic's `inference_geo`). */
  inferenceGeo?: string
}

export type MapResult = { ok: true; value: MappedUsage } | { ok: false; errors: FieldProblem[] }

type Obj = Record<string, unknown>

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)

/** Reads a counter at `path` (dot-separated) below `usage`; absent or null → null; bad → a problem. */
class Reader {
  readonly errors: FieldProblem[] = []
  constructor(private readonly usage: Obj) {}

  has(key: string): boolean {
    return this.usage[key] !== undefined && this.usage[key] !== null
  }

  count(path: string): number | null {
    let v: unknown = this.usage
    const segments = path.split('.')
    for (const [i, seg] of segments.entries()) {
      if (v === undefined || v === null) return null
      if (!isObj(v)) {
        const parent = `usage.${segments.slice(0, i).join('.')}`
        if (!this.errors.some((e) => e.path === parent)) this.errors.push({ path: parent, message: 'must be an object' })
        return null
      }
      v = v[seg]
    }
    if (v === undefined || v === null) return null
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
      this.errors.push({ path: `usage.${path}`, message: 'must be an integer ≥ 0 and ≤ 2^53−1' })
      return null
    }
    return v
  }

  /** A text dimension at `key` (a string or null), as every JSON entry point reads one. */
  dimension(key: string): string | null {
    const parsed = parseJsonDimension(this.usage[key])
    if (parsed.ok) return parsed.value
    this.errors.push({ path: `usage.${key}`, message: parsed.message })
    return null
  }

  result(counters: RawCounters, reasoningTokens: number | null, reportedCost: string | null = null): MapResult {
    if (this.errors.length > 0) return { ok: false, errors: this.errors }
    const defined = Object.fromEntries(Object.entries(counters).filter(([, v]) => v !== null)) as RawCounters
    return { ok: true, value: { counters: defined, reasoningTokens, reportedCost } }
  }
}

/** `String(n)` is the shortest text that round-trips; Decimal turns `1e-7` into plain `0.0000001`. */
export function costToDecimal(n: number): string {
  return new Decimal(String(n)).toFixed()
}

/** An OpenAI-shaped usage's counters, and where that shape keeps its input breakdown (OpenRouter adds cache writes there). */
interface OpenAiShape {
  counters: RawCounters
  reasoning: number | null
  inputDetails: 'prompt_tokens_details' | 'input_tokens_details'
}

function openAiChat(r: Reader): OpenAiShape {
  // Old-style counters: input_audio_tokens is uncached audio, cached is text, the rest of input is text.
  return {
    counters: {
      input_tokens: r.count('prompt_tokens'),
      input_cached_tokens: r.count('prompt_tokens_details.cached_tokens'),
      input_audio_tokens: r.count('prompt_tokens_details.audio_tokens'),
      output_tokens: r.count('completion_tokens'),
      output_audio_tokens: r.count('completion_tokens_details.audio_tokens'),
    },
    reasoning: r.count('completion_tokens_details.reasoning_tokens'),
    inputDetails: 'prompt_tokens_details',
  }
}

function openAiResponses(r: Reader): OpenAiShape {
  return {
    counters: {
      input_tokens: r.count('input_tokens'),
      input_cached_tokens: r.count('input_tokens_details.cached_tokens'),
      output_tokens: r.count('output_tokens'),
    },
    reasoning: r.count('output_tokens_details.reasoning_tokens'),
    inputDetails: 'input_tokens_details',
  }
}

const CHAT_FIELDS = ['prompt_tokens', 'completion_tokens', 'prompt_tokens_details', 'completion_tokens_details']
const RESPONSES_FIELDS = ['input_tokens', 'output_tokens', 'input_tokens_details', 'output_tokens_details']

function openAiShape(r: Reader): OpenAiShape | FieldProblem {
  const chat = CHAT_FIELDS.some((f) => r.has(f))
  const responses = RESPONSES_FIELDS.some((f) => r.has(f))
  if (chat && responses)
    return { path: 'usage', message: 'mixes Chat Completions (prompt_tokens…) and Responses (input_tokens…) fields' }
  if (chat) return openAiChat(r)
  if (responses) return openAiResponses(r)
  return { path: 'usage', message: 'has no token counts (expected prompt_tokens/completion_tokens or input_tokens/output_tokens)' }
}

/**
 * `total_tokens`, where the object has it, is input + output in both OpenAI shapes (and OpenRouter's): it is
 * not stored, but a total that disagrees with its parts means the counters are not what was billed, and a
 * breakdown that does not add up is refused, never silently "fixed" (contract, Usage buckets).
 */
function checkTotal(r: Reader, shape: OpenAiShape): void {
  const total = r.count('total_tokens')
  // A part already refused has no value to add: its own problem says what is wrong.
  if (total === null || r.errors.length > 0) return
  const parts = (shape.counters.input_tokens ?? 0) + (shape.counters.output_tokens ?? 0)
  const [input, output] = shape.inputDetails === 'prompt_tokens_details' ? ['prompt_tokens', 'completion_tokens'] : ['input_tokens', 'output_tokens']
  if (total !== parts) r.errors.push({ path: 'usage.total_tokens', message: `is ${total} but ${input} + ${output} add up to ${parts}` })
}

function mapOpenAiUsage(usage: Obj): MapResult {
  const r = new Reader(usage)
  const shape = openAiShape(r)
  if ('path' in shape) return { ok: false, errors: [shape] }
  checkTotal(r, shape)
  return r.result(shape.counters, shape.reasoning)
}

function mapOpenRouterUsage(usage: Obj): MapResult {
  const r = new Reader(usage)
  const shape = openAiShape(r)
  if ('path' in shape) return { ok: false, errors: [shape] }
  checkTotal(r, shape)
  // The input total counts cache reads and writes; the write part is priced as a cache write. Each
  // shape reports it in its own input breakdown (Chat: prompt_tokens_details, Responses: input_tokens_details).
  const cacheWrite = r.count(`${shape.inputDetails}.cache_write_tokens`)
  let cost: string | null = null
  const raw = usage.cost
  if (typeof raw === 'number' && Number.isFinite(raw) && raw >= 0) cost = costToDecimal(raw)
  else if (raw !== undefined && raw !== null) r.errors.push({ path: 'usage.cost', message: 'must be a number ≥ 0' })
  return r.result({ ...shape.counters, input_cache_write_tokens: cacheWrite }, shape.reasoning, cost)
}

function mapAnthropicUsage(usage: Obj): MapResult {
  const r = new Reader(usage)
  // Anthropic's input_tokens is only the uncached part; the total is the sum of the three.
  const uncached = r.count('input_tokens')
  const write = r.count('cache_creation_input_tokens')
  const read = r.count('cache_read_input_tokens')
  const output = r.count('output_tokens')
  // The split by cache duration, where the response has it; otherwise every write is a 5-minute one.
  const cc = usage.cache_creation
  // Read as "no split", an array or a number here lost every write it held.
  if (cc !== undefined && cc !== null && !isObj(cc)) r.errors.push({ path: 'usage.cache_creation', message: 'must be an object' })
  const split = isObj(cc) && [cc.ephemeral_5m_input_tokens, cc.ephemeral_1h_input_tokens].some((v) => v !== undefined && v !== null)
  const write5m = split ? r.count('cache_creation.ephemeral_5m_input_tokens') : write
  const write1h = split ? r.count('cache_creation.ephemeral_1h_input_tokens') : null
  if (split && write !== null && write !== (write5m ?? 0) + (write1h ?? 0))
    r.errors.push({
      path: 'usage.cache_creation_input_tokens',
      message: `is ${write} but cache_creation's ephemeral_5m_input_tokens + ephemeral_1h_input_tokens add up to ${(write5m ?? 0) + (write1h ?? 0)}`,
    })
  const searches = r.count('server_tool_use.web_search_requests')
  const given = r.dimension('service_tier')
  const serviceTier = given === null ? null : anthropicTier(given).serviceTier
  const inferenceGeo = r.dimension('inference_geo')
  if (uncached === null && write === null && read === null && output === null && r.errors.length === 0)
    return { ok: false, errors: [{ path: 'usage', message: 'has no token counts (expected input_tokens/output_tokens)' }] }
  const total = (uncached ?? 0) + (write5m ?? 0) + (write1h ?? 0) + (read ?? 0)
  if (!Number.isSafeInteger(total)) r.errors.push({ path: 'usage.input_tokens', message: 'input total exceeds 2^53−1' })
  const result = r.result(
    {
      input_tokens: total,
      input_uncached_tokens: uncached ?? 0,
      input_cached_tokens: read ?? 0,
      input_cache_write_tokens: write5m ?? 0,
      input_cache_write_1h_tokens: write1h ?? 0,
      output_tokens: output ?? 0,
    },
    null,
  )
  // Server-side web searches are billed per call: a resource of the event (contract v2, as in reports).
  if (result.ok && searches)
    result.value.resources = [{ resource: 'web_search_calls', quantity: String(searches), attributes: {}, from: 'usage.server_tool_use.web_search_requests' }]
  // They choose the rate, as the same fields of a usage report do (README "Anthropic usage reports").
  if (result.ok && serviceTier !== null) result.value.serviceTier = serviceTier
  if (result.ok && inferenceGeo !== null) result.value.inferenceGeo = inferenceGeo
  return result
}

// A Map, not an object literal: a provider id such as `constructor` must find nothing, not Object's own.
const MAPPERS = new Map<string, (usage: Obj) => MapResult>([
  ['openai', mapOpenAiUsage],
  ['azure', mapOpenAiUsage],
  ['openrouter', mapOpenRouterUsage],
  ['anthropic', mapAnthropicUsage],
])

const USAGE_PROVIDERS = [...MAPPERS.keys()]

export function mapUsage(provider: string, usage: unknown): MapResult {
  if (!isObj(usage)) return { ok: false, errors: [{ path: 'usage', message: 'must be an object' }] }
  // `provider` is an id, folded at the entry point (parseProviderId).
  const mapper = MAPPERS.get(provider)
  if (!mapper)
    return {
      ok: false,
      errors: [
        {
          path: 'usage',
          message: `no usage mapper for provider "${provider}" (known: ${USAGE_PROVIDERS.join(', ')}); send the token counters instead`,
        },
      ],
    }
  return mapper(usage)
}
