/**
 * Content negotiation on `Accept` (RFC 9110 §12.5.1): whether the client prefers `type` to `over` — `type`
 * named with a quality above 0 and not below `over`'s, each type's quality taken from its most specific
 * matching range. Naming `type` is required: `*\/*` keeps the default (`over`).
 */
export function prefers(accept: string | undefined, type: string, over: string): boolean {
  if (!accept) return false
  const ranges = accept.split(',').map((part) => {
    const [range = '', ...params] = part.split(';').map((x) => x.trim().toLowerCase())
    const q = params.find((p) => /^q\s*=/.test(p))
    return { range, q: q === undefined ? 1 : Number(q.slice(q.indexOf('=') + 1).trim()) || 0 }
  })
  const quality = (t: string) => {
    const [major] = t.split('/')
    const match = ranges.find((r) => r.range === t) ?? ranges.find((r) => r.range === `${major}/*`) ?? ranges.find((r) => r.range === '*/*')
    return match?.q ?? 0
  }
  return ranges.some((r) => r.range === type) && quality(type) > 0 && quality(type) >= quality(over)
}
