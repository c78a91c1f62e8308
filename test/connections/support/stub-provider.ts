import { Decimal } from 'decimal.js'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'

/**
 * A stub of OpenAI's and Anthropic's Admin APIs for connection tests: a real HTTP server on
 * 127.0.0.1:0 serving fixture-shaped pages (shapes as in ../shared/fixtures) from a deterministic
 * generator, with the providers' auth headers, limits and pagination, empty buckets, and faults on
 * demand (429 with Retry-After, 500, a response slower than the client's timeout). `expected()`
 * computes the totals a complete pull must store, from the same generator, independently of the ledger.
 */

const HOUR = 3_600_000
const DAY = 24 * HOUR

export interface StubOptions {
  openaiKey: string
  anthropicKey: string
  /** Usage exists in [dataStart, dataEnd) (whole hours). */
  dataStart: number
  dataEnd: number
  /** Results per non-empty hourly bucket. */
  rowsPerBucket?: number
  /** Buckets per page, below the provider's limit, so a window takes several pages. */
  pageBuckets?: number
}

type FaultKind = '429' | '500' | 'slow'
interface Fault {
  kind: FaultKind
  retryAfter?: number
  ms?: number
}

const OPENAI_LIMITS: Record<string, number> = { '1h': 168, '1d': 31 }
const OPENAI_GROUP_BY: Record<string, string[]> = {
  completions: ['project_id', 'user_id', 'api_key_id', 'model', 'batch', 'service_tier'],
  embeddings: ['project_id', 'user_id', 'api_key_id', 'model'],
  images: ['project_id', 'user_id', 'api_key_id', 'model', 'size', 'source'],
}

/** Deterministic counters for (salt, bucket start, row): small, varied, exact. */
function value(salt: number, start: number, row: number): number {
  let x = (Math.floor(start / HOUR) * 2654435761 + row * 40503 + salt * 97) >>> 0
  x ^= x >>> 13
  x = Math.imul(x, 0x5bd1e995) >>> 0
  return (x % 9000) + 1
}

export class StubProvider {
  // close() cuts every connection. A 'slow' fault's handler outlives the client's timeout (which does
  // destroy its socket), and with the default ('idle') close() still waited out the 72 s keep-alive: the
  // timeout test took 76 s on PGlite instead of 6.
  readonly app: FastifyInstance = Fastify({ logger: false, forceCloseConnections: true })
  url = ''
  requests: { path: string; query: Record<string, unknown>; headers: Record<string, unknown> }[] = []
  maxInFlight = 0
  private inFlight = 0
  private faults = new Map<number, Fault>()
  private revisions = new Map<string, number>()
  /** Every response waits this long (to widen races in the concurrency tests). */
  delayMs = 0
  private gate: { from: number; opened: Promise<void>; open: () => void } | undefined
  readonly rows: number
  readonly pageBuckets: number

  constructor(readonly opts: StubOptions) {
    this.rows = opts.rowsPerBucket ?? 3
    this.pageBuckets = opts.pageBuckets ?? 5
    this.app.get('/v1/organization/usage/:endpoint', (req, reply) => this.serve(req, reply, 'openai'))
    this.app.get('/v1/organization/costs', (req, reply) => this.serve(req, reply, 'openai'))
    this.app.get('/v1/organizations/usage_report/messages', (req, reply) => this.serve(req, reply, 'anthropic'))
    this.app.get('/v1/organizations/cost_report', (req, reply) => this.serve(req, reply, 'anthropic'))
  }

  async start(): Promise<this> {
    await this.app.listen({ host: '127.0.0.1', port: 0 })
    const addr = this.app.server.address()
    if (!addr || typeof addr === 'string') throw new Error('no address')
    this.url = `http://127.0.0.1:${addr.port}`
    return this
  }

  /**
   * Holds the responses to request `from` (0-based, counted since the stub started) and every one after
   * it, until the returned function is called: an ordering for a test ("the page arrives after X", "the
   * run is still mid-page when Y"), where a delay would be a guess that a loaded machine can outlast.
   */
  hold(from = 0): () => void {
    let open!: () => void
    const gate = { from, opened: new Promise<void>((r) => (open = r)), open: () => open() }
    this.gate = gate
    return () => {
      if (this.gate === gate) this.gate = undefined
      gate.open()
    }
  }

  close() {
    this.gate?.open()
    return this.app.close()
  }

  /** The `times` requests after the next `skip` ones get `fault`. */
  fault(kind: FaultKind, opts: { skip?: number; times?: number; retryAfter?: number; ms?: number } = {}) {
    const first = this.requests.length + (opts.skip ?? 0)
    for (let i = 0; i < (opts.times ?? 1); i++) this.faults.set(first + i, { kind, ...opts })
  }

  /** The provider revises a bucket: its counters are multiplied by `factor` from now on. */
  revise(endpoint: string, startMs: number, factor: number) {
    this.revisions.set(`${endpoint}@${startMs}`, factor)
  }

  private factor(endpoint: string, start: number) {
    return this.revisions.get(`${endpoint}@${start}`) ?? 1
  }

  /** Hourly buckets with usage (every fifth hour is empty, as real windows have quiet hours). */
  private hasUsage(start: number) {
    return start >= this.opts.dataStart && start < this.opts.dataEnd && Math.floor(start / HOUR) % 5 !== 0
  }

  openaiResults(endpoint: string, start: number): Record<string, unknown>[] {
    if (!this.hasUsage(start)) return []
    const f = this.factor(endpoint, start)
    const out: Record<string, unknown>[] = []
    for (let i = 0; i < this.rows; i++) {
      const dims = { project_id: `proj_${i}`, user_id: null, api_key_id: `key_${i % 2}`, model: i % 2 ? 'gpt-4o' : 'gpt-4o-mini' }
      if (endpoint === 'completions') {
        const input = value(1, start, i) * f
        const cached = Math.floor(input / 4)
        out.push({
          object: 'organization.usage.completions.result',
          input_tokens: input,
          output_tokens: value(2, start, i) * f,
          input_cached_tokens: cached,
          input_audio_tokens: 0,
          output_audio_tokens: 0,
          num_model_requests: value(3, start, i) % 50,
          ...dims,
          batch: false,
          service_tier: 'default',
        })
      } else if (endpoint === 'embeddings') {
        out.push({ object: 'organization.usage.embeddings.result', input_tokens: value(4, start, i) * f, num_model_requests: value(5, start, i) % 20, ...dims, model: 'text-embedding-3-small' })
      } else if (endpoint === 'images' && i === 0) {
        out.push({ object: 'organization.usage.images.result', images: (value(6, start, i) % 7) * f + 1, num_model_requests: 1, size: '1024x1024', source: 'image.generation', ...dims, model: 'dall-e-3' })
      }
    }
    return out
  }

  anthropicResults(start: number): Record<string, unknown>[] {
    if (!this.hasUsage(start)) return []
    const f = this.factor('usage_report_messages', start)
    return Array.from({ length: this.rows }, (_, i) => ({
      api_key_id: `apikey_${i}`,
      workspace_id: i === 0 ? null : `wrkspc_${i}`,
      model: 'claude-sonnet-4-5',
      service_tier: 'standard',
      context_window: '0-200k',
      inference_geo: 'global',
      uncached_input_tokens: value(7, start, i) * f,
      cache_read_input_tokens: value(8, start, i),
      cache_creation: { ephemeral_5m_input_tokens: value(9, start, i) % 100, ephemeral_1h_input_tokens: value(10, start, i) % 50 },
      output_tokens: value(11, start, i),
      server_tool_use: { web_search_requests: value(12, start, i) % 3 },
    }))
  }

  /** Days with usage carry one billed cost per project. */
  costResults(provider: 'openai' | 'anthropic', dayStart: number): Record<string, unknown>[] {
    if (dayStart + DAY <= this.opts.dataStart || dayStart >= this.opts.dataEnd) return []
    return Array.from({ length: 2 }, (_, i) =>
      provider === 'openai'
        ? { object: 'organization.costs.result', amount: { value: value(13, dayStart, i) / 100, currency: 'usd' }, line_item: 'gpt-4o, input', project_id: `proj_${i}`, api_key_id: null, quantity: null, quantity_unit: null }
        : { amount: `${value(14, dayStart, i)}.125`, currency: 'USD', cost_type: 'tokens', description: 'Claude Sonnet 4.5 Usage - Input Tokens', model: 'claude-sonnet-4-5', service_tier: 'standard', context_window: '0-200k', inference_geo: 'global', token_type: 'uncached_input_tokens', workspace_id: `wrkspc_${i}` },
    )
  }

  private async serve(req: FastifyRequest, reply: FastifyReply, provider: 'openai' | 'anthropic') {
    const n = this.requests.length
    const q = req.query as Record<string, unknown>
    this.requests.push({ path: req.url.split('?')[0]!, query: q, headers: req.headers })
    this.inFlight++
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight)
    try {
      const fault = this.faults.get(n)
      if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs))
      if (this.gate && n >= this.gate.from) await this.gate.opened
      if (fault?.kind === 'slow') await new Promise((r) => setTimeout(r, fault.ms ?? 2000))
      if (fault?.kind === '429') return reply.status(429).header('retry-after', String(fault.retryAfter ?? 1)).send({ error: { message: 'Rate limit reached', type: 'rate_limit_exceeded' } })
      if (fault?.kind === '500') return reply.status(500).send({ error: { message: 'The server had an error', type: 'server_error' } })
      const denied = provider === 'openai' ? this.checkOpenAI(req) : this.checkAnthropic(req)
      if (denied) return reply.status(denied.status).send(denied.body)
      return this.page(req, q, provider, reply)
    } finally {
      this.inFlight--
    }
  }

  private checkOpenAI(req: FastifyRequest) {
    const auth = req.headers.authorization ?? ''
    if (auth === `Bearer ${this.opts.openaiKey}`) return undefined
    // Real providers echo (part of) the key they were given: the client must not repeat it.
    return { status: 401, body: { error: { message: `Incorrect API key provided: ${auth.replace(/^Bearer /, '')}.`, type: 'invalid_request_error', code: 'invalid_api_key' } } }
  }

  private checkAnthropic(req: FastifyRequest) {
    if (req.headers['anthropic-version'] !== '2023-06-01') return { status: 400, body: { type: 'error', error: { type: 'invalid_request_error', message: 'anthropic-version header is required' } } }
    if (req.headers['x-api-key'] !== this.opts.anthropicKey || req.headers.authorization)
      return { status: 401, body: { type: 'error', error: { type: 'authentication_error', message: `invalid x-api-key ${String(req.headers['x-api-key'])}` } } }
    return undefined
  }

  private page(req: FastifyRequest, q: Record<string, unknown>, provider: 'openai' | 'anthropic', reply: FastifyReply) {
    const path = req.url.split('?')[0]!
    const costs = path.endsWith('/costs') || path.endsWith('/cost_report')
    const endpoint = provider === 'anthropic' ? (costs ? 'cost_report' : 'usage_report_messages') : costs ? 'costs' : path.split('/').pop()!
    const width = String(q.bucket_width)
    const start = provider === 'openai' ? Number(q.start_time) * 1000 : Date.parse(String(q.starting_at))
    const end = provider === 'openai' ? Number(q.end_time) * 1000 : Date.parse(String(q.ending_at))
    const limit = Number(q.limit)
    const maxLimit = costs && provider === 'openai' ? 180 : OPENAI_LIMITS[width]
    const bad: string[] = []
    if (!Number.isFinite(start) || !Number.isFinite(end) || end <= start) bad.push('start/end')
    if (costs ? width !== '1d' : width !== '1h' && width !== '1d') bad.push('bucket_width')
    if (!(limit >= 1 && limit <= (maxLimit ?? 0))) bad.push('limit')
    const groupBy = [q['group_by'] ?? q['group_by[]'] ?? []].flat().map(String)
    const wanted = provider === 'anthropic' ? (costs ? ['workspace_id', 'description'] : ['api_key_id', 'workspace_id', 'model', 'service_tier', 'context_window', 'inference_geo']) : costs ? ['project_id', 'line_item'] : OPENAI_GROUP_BY[endpoint]
    if (wanted && wanted.some((g) => !groupBy.includes(g))) bad.push(`group_by (got ${groupBy.join(',')})`)
    if (bad.length) return reply.status(400).send({ error: { message: `bad parameters: ${bad.join(', ')}` } })
    const step = width === '1d' ? DAY : HOUR
    const starts: number[] = []
    for (let t = start; t < end; t += step) starts.push(t)
    const from = q.page ? Number(Buffer.from(String(q.page), 'base64url').toString().slice(2)) : 0
    const slice = starts.slice(from, from + Math.min(limit, this.pageBuckets))
    const more = from + slice.length < starts.length
    const next = more ? Buffer.from(`b:${from + slice.length}`).toString('base64url') : null
    const results = (t: number) => {
      if (costs) return this.costResults(provider, t)
      if (provider === 'anthropic') return width === '1h' ? this.anthropicResults(t) : []
      return width === '1h' ? this.openaiResults(endpoint, t) : []
    }
    if (provider === 'openai')
      return { object: 'page', data: slice.map((t) => ({ object: 'bucket', start_time: t / 1000, end_time: (t + step) / 1000, results: results(t) })), has_more: more, next_page: next }
    const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z')
    return { data: slice.map((t) => ({ starting_at: iso(t), ending_at: iso(t + step), results: results(t) })), has_more: more, next_page: next }
  }

  /** Billed dollars a complete pull stores, summed exactly (Anthropic reports cents). */
  expectedCosts(provider: 'openai' | 'anthropic'): { rows: number; dollars: Decimal } {
    let rows = 0
    let dollars = new Decimal(0)
    for (let d = Math.floor(this.opts.dataStart / DAY) * DAY; d < this.opts.dataEnd; d += DAY)
      for (const r of this.costResults(provider, d)) {
        rows++
        dollars = dollars.plus(provider === 'openai' ? new Decimal(String((r.amount as { value: number }).value)) : new Decimal(r.amount as string).div(100))
      }
    return { rows, dollars }
  }

  /** What a complete pull stores, computed from the generator (BigInt: exact). */
  expected() {
    const sum = { completions: { rows: 0, input: 0n, output: 0n, requests: 0n }, embeddings: { rows: 0, input: 0n }, images: { rows: 0, quantity: 0n }, anthropic: { rows: 0, output: 0n, uncached: 0n, webSearches: 0n } }
    for (let t = this.opts.dataStart; t < this.opts.dataEnd; t += HOUR) {
      for (const r of this.openaiResults('completions', t)) {
        sum.completions.rows++
        sum.completions.input += BigInt(r.input_tokens as number)
        sum.completions.output += BigInt(r.output_tokens as number)
        sum.completions.requests += BigInt(r.num_model_requests as number)
      }
      for (const r of this.openaiResults('embeddings', t)) {
        sum.embeddings.rows++
        sum.embeddings.input += BigInt(r.input_tokens as number)
      }
      for (const r of this.openaiResults('images', t)) {
        sum.images.rows++
        sum.images.quantity += BigInt(r.images as number)
      }
      for (const r of this.anthropicResults(t)) {
        sum.anthropic.rows++
        sum.anthropic.output += BigInt(r.output_tokens as number)
        sum.anthropic.uncached += BigInt(r.uncached_input_tokens as number)
        sum.anthropic.webSearches += BigInt((r.server_tool_use as { web_search_requests: number }).web_search_requests)
      }
    }
    return sum
  }
}
