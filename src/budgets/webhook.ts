import { createHmac } from 'node:crypto'
import { request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'
import type { AlertRow } from '../db/queries/budgets.js'
import { normalizeDecimal } from '../decimal/decimal-text.js'
import { privateHostOf, publicOnlyLookup, PrivateAddressError } from '../http/private-addresses.js'

/** The contract's alert payload, and `complete` (false: usage without a price is not in `spent`, a lower bound; null: not known, recorded by an older version). */
export function alertPayload(alert: AlertRow, budgetName: string): string {
  return JSON.stringify({
    id: alert.id,
    budget: budgetName,
    threshold: alert.threshold,
    amount: normalizeDecimal(alert.amount),
    spent: normalizeDecimal(alert.spent),
    period_start: new Date(alert.period_start).toISOString(),
    period_end: new Date(alert.period_end).toISOString(),
    crossed_at: new Date(alert.crossed_at).toISOString(),
    complete: alert.complete,
  })
}

/** `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`: the timestamp is signed so a captured delivery cannot be replayed later. */
function signature(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`
}

export interface AttemptResult {
  statusCode: number | null
  error: string | null
  durationMs: number
  ok: boolean
}

/**
 * One POST; never throws. A 2xx is delivered; anything else (or no answer within the timeout) is retried.
 * Redirects are not followed. Unless `allowPrivate`, a URL that names or resolves to a private address
 * is refused before anything is sent (src/http/private-addresses.ts).
 */
export async function postAlert(url: string, body: string, secret: string | null, timeoutMs: number, at: Date, allowPrivate: boolean): Promise<AttemptResult> {
  const timestamp = Math.floor(at.getTime() / 1000)
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
    'user-agent': 'tokenledger-budgets',
    'x-tokenledger-timestamp': String(timestamp),
  }
  if (secret !== null) headers['x-tokenledger-signature'] = signature(secret, timestamp, body)
  const started = performance.now()
  const done = (statusCode: number | null, error: string | null): AttemptResult => ({
    statusCode,
    error,
    durationMs: Math.round(performance.now() - started),
    ok: error === null,
  })
  const literal = allowPrivate ? undefined : privateHostOf(url)
  if (literal) return done(null, `refused: ${literal} is a private or reserved address (OUTBOUND_PRIVATE_ADDRESSES=allow permits it)`)
  return new Promise((resolve) => {
    const u = new URL(url)
    const send = u.protocol === 'https:' ? httpsRequest : httpRequest
    const req = send(u, { method: 'POST', headers, ...(allowPrivate ? {} : { lookup: publicOnlyLookup }) }, (res) => {
      clearTimeout(timer)
      // The receiver's body is not needed: the status says it all, and a body that never ends must not hold the attempt.
      res.destroy()
      const code = res.statusCode ?? 0
      resolve(done(code, code >= 200 && code < 300 ? null : `HTTP ${code}`))
    })
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs)
    req.on('error', (err: Error & { code?: string }) => {
      clearTimeout(timer)
      const reason = err instanceof PrivateAddressError ? `refused: ${err.message} (OUTBOUND_PRIVATE_ADDRESSES=allow permits it)` : (err.code ?? err.message)
      resolve(done(null, reason))
    })
    req.end(body)
  })
}
