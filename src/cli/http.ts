import type { z } from 'zod'
import { redact } from '../http/redact-secret.js'
import { CliError, oneLine, usageError } from './errors.js'

export interface ServerTarget {
  url: string
  token: string
  /** TOKENLEDGER_TIMEOUT: how long a request that sends no file may wait for the whole answer. */
  timeoutS: number
}

interface Problem {
  title?: string
  detail?: string
  errors?: { path?: string; line?: number; index?: number; message?: string }[]
  error_count?: number
}

/** `404 no route` means the server predates the feature: said so plainly rather than "not found". */
export class MissingRouteError extends CliError {}

function describeProblem(status: number, text: string, contentType: string): string {
  if (!/json/.test(contentType)) return `HTTP ${status}${text ? `: ${text.slice(0, 200)}` : ''}`
  const p = JSON.parse(text) as Problem
  let line = `${status} ${p.title ?? 'error'}: ${p.detail ?? ''}`
  const first = p.errors?.[0]
  if (first) {
    const where = first.line !== undefined ? `line ${first.line}` : (first.path ?? (first.index !== undefined ? `item ${first.index}` : undefined))
    line += ` — ${where ? `${where}: ` : ''}${first.message ?? ''}`
    const more = (p.error_count ?? p.errors!.length) - 1
    if (more > 0) line += ` (+${more} more)`
  }
  return line
}

/**
 * One request to the server at `path` (`/v1/…`) under the server URL, prefix included; a non-2xx answer
 * becomes a CliError carrying the problem's detail on one line. `body` may be a stream (`duplex: 'half'`
 * lets fetch send it as it is read).
 */
export async function callServer<T>(
  target: ServerTarget,
  method: string,
  path: string,
  init: { body?: string | ReadableStream<Uint8Array>; headers?: Record<string, string>; expect?: z.ZodType<T> } = {},
): Promise<T> {
  // Relative to the server URL, whose path may be a prefix (a proxy serving tokenledger under /tl/): an
  // absolute "/v1/…" resolved against it dropped that prefix and called the proxy's own path.
  const url = new URL(path.replace(/^\/+/, ''), target.url.endsWith('/') ? target.url : `${target.url}/`)
  // A server that takes the request and never answers held the command for undici's five-minute header
  // timeout. A request without a file is bounded, its body included; an upload is not (a large file takes
  // as long as it takes to send and store: the server's REQUEST_TIMEOUT_MS bounds it).
  const upload = init.body !== undefined && typeof init.body !== 'string'
  const signal = upload ? undefined : AbortSignal.timeout(target.timeoutS * 1000)
  // Whatever the server (or a proxy, or another service at the URL) says is printed, and it may echo the
  // Authorization header: the token is blanked out of it before it is cut short or printed.
  const said = (text: string) => redact(text, target.token, '[token]')
  const failed = (err: unknown, reached: boolean): CliError => {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause
    if ((err as Error).name === 'TimeoutError' || cause?.code === 'UND_ERR_HEADERS_TIMEOUT' || cause?.code === 'UND_ERR_BODY_TIMEOUT')
      return new CliError(`${url.origin} did not answer ${method} ${url.pathname} ${upload ? 'in time' : `within ${target.timeoutS} s (TOKENLEDGER_TIMEOUT)`}`)
    const reason = said(cause?.code ?? cause?.message ?? (err as Error).message)
    return new CliError(reached ? `${url.origin} broke off its answer to ${method} ${url.pathname}: ${reason}` : `cannot reach ${url.origin}: ${reason}`)
  }
  let res: Response
  let text: string
  try {
    res = await fetch(url, {
      method,
      headers: { authorization: `Bearer ${target.token}`, ...init.headers },
      ...(init.body === undefined ? {} : { body: init.body, duplex: 'half' }),
      ...(signal ? { signal } : {}),
      // tokenledger never redirects. Followed, a redirect to another origin dropped the token (as fetch must)
      // and the server there said 401 "a valid bearer token is required" of a valid one; a 301/302 also
      // turned the POST into a GET. Said as what it is, the operator fixes the URL rather than the key.
      redirect: 'manual',
    } as RequestInit)
  } catch (err) {
    throw failed(err, false)
  }
  if (res.status >= 300 && res.status < 400) {
    await res.body?.cancel().catch(() => {})
    throw new CliError(`${url.origin} answered ${method} ${url.pathname} with a redirect (${res.status})${redirectTarget(url, res.headers.get('location'), said)}: set --url (TOKENLEDGER_URL) to the server's address`)
  }
  try {
    text = await res.text()
  } catch (err) {
    throw failed(err, true)
  }
  if (!res.ok) {
    let line: string
    try {
      line = describeProblem(res.status, said(text), res.headers.get('content-type') ?? '')
    } catch {
      line = `HTTP ${res.status}`
    }
    const Err = res.status === 404 && /no route for/.test(text) ? MissingRouteError : CliError
    throw new Err(oneLine(line))
  }
  if (!text && !init.expect) return {} as T
  let answer: unknown
  try {
    answer = text ? JSON.parse(text) : undefined
  } catch {
    // A proxy's login page or another service at the URL: say what answered, not the parser's complaint.
    const type = said(res.headers.get('content-type') || 'no content type')
    throw new CliError(`${url.origin} answered ${method} ${url.pathname} with ${res.status} (${oneLine(type).slice(0, 100)}) that is not JSON: is it a tokenledger server?`)
  }
  if (!init.expect) return answer as T
  // A 2xx that is JSON but not tokenledger's answer (an empty 200 from a proxy, another API) is no success:
  // `tenants create` printed "created tenant undefined (undefined)" and exited 0.
  const checked = init.expect.safeParse(answer)
  if (checked.success) return checked.data
  const issue = checked.error.issues[0]!
  const what = issue.code === 'invalid_type' ? `expected ${issue.expected}` : issue.message
  const why = said(text ? `${issue.path.length ? `${issue.path.join('.')}: ` : ''}${what}` : 'an empty body')
  throw new CliError(`${url.origin} answered ${method} ${url.pathname} with ${res.status} but not as tokenledger does (${oneLine(why).slice(0, 100)}): is it a tokenledger server?`)
}

/** ` to <origin><path>` of a redirect's Location (its query and fragment may carry signatures: left out), or nothing. */
function redirectTarget(from: URL, location: string | null, said: (text: string) => string): string {
  if (!location || !URL.canParse(location, from.href)) return ''
  const to = new URL(location, from)
  return ` to ${oneLine(said(`${to.origin}${to.pathname}`)).slice(0, 200)}`
}

/**
 * Path segments are user input: encoded, so an id cannot reach another route. `.` and `..` (which no
 * encoding hides: URLs resolve `%2e` as a dot too) would drop path segments, so they are refused.
 */
export function segment(s: string): string {
  if (s === '.' || s === '..') throw usageError(`"${s}" is not an id`)
  return encodeURIComponent(s)
}
