import { createHmac } from 'node:crypto'
import type { AlertRow } from '../db/queries/budgets.js'
import { normalizeDecimal } from '../decimal/decimal-text.js'

/** The contract's alert payload. */
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

/** One POST; never throws. A 2xx is delivered; anything else (or no answer within the timeout) is retried. */
export async function postAlert(url: string, body: string, secret: string | null, timeoutMs: number, at: Date): Promise<AttemptResult> {
  const timestamp = Math.floor(at.getTime() / 1000)
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'tokenledger-budgets',
    'x-tokenledger-timestamp': String(timestamp),
  }
  if (secret !== null) headers['x-tokenledger-signature'] = signature(secret, timestamp, body)
  const started = performance.now()
  try {
    const res = await fetch(url, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) })
    // The receiver's body is not needed; read it so the connection is released.
    await res.arrayBuffer().catch(() => undefined)
    const ok = res.status >= 200 && res.status < 300
    return { statusCode: res.status, error: ok ? null : `HTTP ${res.status}`, durationMs: Math.round(performance.now() - started), ok }
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } }
    const reason = e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (e.cause?.code ?? e.message)
    return { statusCode: null, error: reason, durationMs: Math.round(performance.now() - started), ok: false }
  }
}
