import { privateHostOf, PrivateAddressError, publicOnlyAgent } from '../http/private-addresses.js'
import { redact as redactSecret } from '../http/redact-secret.js'
import type { ProviderPage } from './provider.js'

/**
 * One provider request with the manners providers ask for: a timeout per attempt, 429 and 5xx retried
 * after `Retry-After` (seconds or an HTTP date) or else exponential backoff with full jitter, a bounded
 * number of attempts. Plain `fetch` (undici) is enough for this; no retry library is needed.
 */
export interface RetryPolicy {
  timeoutMs: number
  maxAttempts: number
  baseDelayMs: number
  /** Caps backoff; a longer Retry-After ends the attempts (the next run tries again), so a run never sleeps longer than this. */
  maxDelayMs: number
  /** The largest response body read (bytes): a provider (or anything posing as it) cannot fill memory. */
  maxBodyBytes: number
  /** Requests may reach private and reserved addresses (OUTBOUND_PRIVATE_ADDRESSES=allow): base_url is tenant input. */
  allowPrivate: boolean
}

const PRIVATE_HINT = 'OUTBOUND_PRIVATE_ADDRESSES=allow permits it'

/** A request the provider refused for good (401, 403, 400…): retrying cannot help. `status`: the provider's, when it answered one. */
export class ProviderRefused extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message)
  }
}

/** The run was asked to stop (shutdown, a lost lease): not a provider failure. */
export class RunInterrupted extends Error {}

export interface PageRequest {
  url: URL
  headers: Record<string, string>
  /** Aborts waiting and the request in flight (shutdown). */
  signal: AbortSignal
  /** Text that must never appear in an error (the admin key): replaced before a message leaves here. */
  secret: string
}

const RETRYABLE = (status: number) => status === 429 || status === 408 || status >= 500

const pathOf = (url: URL) => `${url.origin}${url.pathname}`

/**
 * Where a redirect points (origin and path; its query may carry anything), for the error. Redirects are
 * never followed: fetch would repeat the request to any origin with the provider's own auth headers
 * (only Authorization is dropped across origins; Anthropic's x-api-key is sent on).
 */
function redirectTarget(location: string | null, from: URL): string {
  const to = location && URL.canParse(location, from.href) ? new URL(location, from) : undefined
  return to ? pathOf(to) : 'nowhere (no Location)'
}

function retryAfterMs(header: string | null, now: number): number | undefined {
  if (!header) return undefined
  const h = header.trim()
  // Seconds; a fraction ("1.5", which some services send) is read as one too, never as a date.
  if (/^\d+(\.\d+)?$/.test(h)) return Math.ceil(Number(h) * 1000)
  // An HTTP date starts with the day's name. Date.parse alone would read "-1" or "1.5" as a date in
  // 2001, long past: no wait at all, every attempt at once.
  if (!/^[A-Za-z]{3}/.test(h)) return undefined
  const at = Date.parse(h)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new RunInterrupted('interrupted'))
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', stop)
      resolve()
    }, ms)
    const stop = () => {
      clearTimeout(timer)
      reject(new RunInterrupted('interrupted'))
    }
    signal.addEventListener('abort', stop, { once: true })
  })
}

/** A provider's error text, short, with the key blanked out in case the provider echoes it. */
function describe(status: number, statusText: string, body: string, secret: string): string {
  let reason = body
  try {
    const json = JSON.parse(body) as { error?: { message?: unknown } | string; message?: unknown }
    const msg = typeof json.error === 'object' ? json.error?.message : json.error ?? json.message
    if (typeof msg === 'string') reason = msg
  } catch {
    // not JSON: keep the text
  }
  // Blanked out before the text is cut: a cut through the key would keep its first characters.
  reason = redact(reason, secret).replace(/\s+/g, ' ').trim().slice(0, 300)
  return `${status} ${statusText}${reason ? `: ${reason}` : ''}`
}

/**
 * The text with every echo of the admin key replaced (src/http/redact-secret.ts). (A Basic-auth, base64
 * echo cannot occur: the key is sent only as a Bearer token or x-api-key, never in a Basic header.)
 */
export const redact = (text: string, secret: string) => redactSecret(text, secret, '[admin key]')

/**
 * The signal of one attempt: aborted by the run's signal or after `timeoutMs`. A controller of our own,
 * held by its timer until `release`, not `AbortSignal.any([signal, AbortSignal.timeout(ms)])`: fetch
 * (undici) follows the signal it is given through a weak reference, and once a garbage collection
 * dropped the composite, neither the timeout nor a shutdown reached the request — a provider that
 * never answered held the pull for ever (test/connections/fetch-timeout-gc.test.ts).
 */
function attemptAbort(run: AbortSignal, timeoutMs: number) {
  const controller = new AbortController()
  const state = { signal: controller.signal, timedOut: false, release }
  const timer = setTimeout(() => {
    state.timedOut = true
    controller.abort(new DOMException(`no answer within ${timeoutMs} ms`, 'TimeoutError'))
  }, timeoutMs)
  const forward = () => controller.abort(run.reason)
  run.addEventListener('abort', forward, { once: true })
  if (run.aborted) forward()
  function release() {
    clearTimeout(timer)
    run.removeEventListener('abort', forward)
  }
  return state
}

/**
 * The response's text, read only up to `limit` bytes: a larger body (declared or streamed) is refused for
 * good — the same page would be as large again — and the rest of it is never read.
 */
async function boundedText(res: Response, limit: number, url: URL): Promise<string> {
  const tooLarge = () => new ProviderRefused(`GET ${pathOf(url)} answered a body larger than ${limit} bytes (SYNC_MAX_PAGE_BYTES)`)
  const declared = Number(res.headers.get('content-length'))
  if (declared > limit) {
    await res.body?.cancel()
    throw tooLarge()
  }
  if (!res.body) return ''
  const chunks: Uint8Array[] = []
  let bytes = 0
  for await (const chunk of res.body) {
    bytes += chunk.byteLength
    // Leaving the loop cancels the stream: the rest of the body is never read.
    if (bytes > limit) throw tooLarge()
    chunks.push(chunk)
  }
  return Buffer.concat(chunks, bytes).toString('utf8')
}

export async function fetchPage(req: PageRequest, policy: RetryPolicy): Promise<ProviderPage> {
  const literal = policy.allowPrivate ? undefined : privateHostOf(req.url.href)
  if (literal) throw new ProviderRefused(`GET ${pathOf(req.url)} refused: ${literal} is a private or reserved address (${PRIVATE_HINT})`)
  // Node's fetch takes an undici dispatcher; its RequestInit type does not name the option.
  const dispatcher = policy.allowPrivate ? {} : ({ dispatcher: publicOnlyAgent } as object)
  let lastProblem = ''
  for (let attempt = 1; attempt <= policy.maxAttempts; attempt++) {
    if (req.signal.aborted) throw new RunInterrupted('interrupted')
    let waitMs: number | undefined
    const attemptSignal = attemptAbort(req.signal, policy.timeoutMs)
    try {
      const res = await fetch(req.url, { headers: { accept: 'application/json', ...req.headers }, signal: attemptSignal.signal, redirect: 'manual', ...dispatcher })
      if (res.status >= 300 && res.status < 400) {
        await res.body?.cancel()
        throw new ProviderRefused(
          `GET ${pathOf(req.url)} answered ${res.status} ${res.statusText}, a redirect to ${redirectTarget(res.headers.get('location'), req.url)}; not followed, so the admin key goes only to base_url: set base_url to the API root it should be`,
        )
      }
      const text = await boundedText(res, policy.maxBodyBytes, req.url)
      if (res.ok) {
        const page = JSON.parse(text) as ProviderPage
        if (typeof page !== 'object' || page === null || !Array.isArray(page.data))
          throw new ProviderRefused(`GET ${pathOf(req.url)} answered a body without a data array`)
        return page
      }
      lastProblem = describe(res.status, res.statusText, text, req.secret)
      if (!RETRYABLE(res.status)) throw new ProviderRefused(`GET ${pathOf(req.url)} answered ${lastProblem}`, res.status)
      waitMs = retryAfterMs(res.headers.get('retry-after'), Date.now())
      // Asked to wait longer than a run waits: retrying at the cap would only ask too early, again.
      if (waitMs !== undefined && waitMs > policy.maxDelayMs)
        throw new ProviderRefused(
          `GET ${pathOf(req.url)} answered ${lastProblem}; asked to wait ${Math.ceil(waitMs / 1000)} s before another request, longer than SYNC_RETRY_MAX_MS (${policy.maxDelayMs} ms): left for the next run`,
          res.status,
        )
    } catch (err) {
      if (err instanceof ProviderRefused) throw err
      if (req.signal.aborted) throw new RunInterrupted('interrupted')
      const e = err as Error
      if (e.cause instanceof PrivateAddressError) throw new ProviderRefused(`GET ${pathOf(req.url)} refused: ${e.cause.message} (${PRIVATE_HINT})`)
      lastProblem = attemptSignal.timedOut ? `no answer within ${policy.timeoutMs} ms` : e instanceof SyntaxError ? 'a body that is not JSON' : redact(`${e.message}${e.cause instanceof Error ? ` (${e.cause.message})` : ''}`, req.secret)
    } finally {
      attemptSignal.release()
    }
    if (attempt === policy.maxAttempts) break
    const backoff = Math.random() * Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1))
    await sleep(Math.min(policy.maxDelayMs, waitMs ?? backoff), req.signal)
  }
  throw new Error(`GET ${pathOf(req.url)} failed after ${policy.maxAttempts} attempts; last: ${lastProblem}`)
}
