import { z } from 'zod'

/**
 * An http(s) URL the ledger will call (a provider's API root, a budget's webhook), at most 2,000
 * characters, without a user name or password: fetch refuses such URLs, so every call would fail, and
 * the URL is shown back in responses. `example` completes the error message.
 */
export function outboundUrl(example: string) {
  return z
    .url({ protocol: /^https?$/, error: `must be an http(s) URL such as ${example}` })
    .max(2000)
    // zod runs refinements even when the URL check failed: they must not throw on a malformed URL.
    .refine((u) => !URL.canParse(u) || (new URL(u).username === '' && new URL(u).password === ''), 'must not carry a user name or password')
}
