// Independent expectations for query tests: plain loops and decimal.js over the seeded rows, sharing
// no code with src/ (so a bug there cannot cancel itself out here).
import { Decimal } from 'decimal.js'
import type { SeedBucket, SeedRate, PriceField } from './usage.js'

const CLASS_PRICE: [keyof SeedBucket, PriceField, 'input' | 'cachedInput' | 'cacheWrite' | 'output'][] = [
  ['inText', 'input', 'input'],
  ['inAudio', 'input_audio', 'input'],
  ['inImage', 'input_image', 'input'],
  ['cachedText', 'cached_input', 'cachedInput'],
  ['cachedAudio', 'cached_input_audio', 'cachedInput'],
  ['cachedImage', 'cached_input_image', 'cachedInput'],
  ['cacheWrite', 'cache_write', 'cacheWrite'],
  ['outText', 'output', 'output'],
  ['outAudio', 'output_audio', 'output'],
  ['outImage', 'output_image', 'output'],
]

export interface ExpectedCost {
  total: Decimal
  input: Decimal
  cachedInput: Decimal
  cacheWrite: Decimal
  output: Decimal
  unpriced: number
}

export function zeroCost(): ExpectedCost {
  const z = new Decimal(0)
  return { total: z, input: z, cachedInput: z, cacheWrite: z, output: z, unpriced: 0 }
}

export function addCost(a: ExpectedCost, b: ExpectedCost): ExpectedCost {
  return {
    total: a.total.plus(b.total),
    input: a.input.plus(b.input),
    cachedInput: a.cachedInput.plus(b.cachedInput),
    cacheWrite: a.cacheWrite.plus(b.cacheWrite),
    output: a.output.plus(b.output),
    unpriced: a.unpriced + b.unpriced,
  }
}

/** The rate in force for a bucket, by the contract's rules, found by brute force. */
export function findRate(b: SeedBucket, rates: (SeedRate & { id: number })[], asOf: Date): SeedRate | undefined {
  if (b.model === null) return undefined
  const visible = rates.filter(
    (r) => (r.recordedAt ?? new Date(0)) <= asOf && !rates.some((s) => s.supersedes === r.id && (s.recordedAt ?? new Date(0)) <= asOf),
  )
  const inForce = visible.filter((r) => {
    if ((r.provider ?? 'openai') !== (b.provider ?? 'openai')) return false
    if ((r.serviceTier ?? 'default') !== (b.serviceTier ?? 'default')) return false
    if ((r.batch ?? false) !== (b.batch ?? false)) return false
    const matches = r.model === b.model || (r.model.endsWith('*') && b.model!.startsWith(r.model.replace(/\*+$/, '')))
    if (!matches || r.effectiveFrom > b.start) return false
    const next = visible
      .filter((o) => o !== r && o.model === r.model && (o.serviceTier ?? 'default') === (r.serviceTier ?? 'default') && (o.batch ?? false) === (r.batch ?? false) && (o.provider ?? 'openai') === (r.provider ?? 'openai') && o.effectiveFrom > r.effectiveFrom)
      .map((o) => o.effectiveFrom.getTime())
    const until = Math.min(r.effectiveTo?.getTime() ?? Infinity, ...next)
    return b.start.getTime() < until
  })
  inForce.sort((x, y) => Number(y.model === b.model) - Number(x.model === b.model) || y.model.length - x.model.length)
  return inForce[0]
}

export function expectedCost(b: SeedBucket, rate: SeedRate | undefined): ExpectedCost {
  const c = zeroCost()
  for (const [key, price, field] of CLASS_PRICE) {
    const tokens = (b[key] as number | undefined) ?? 0
    const p = rate?.prices[price]
    if (p === undefined) {
      c.unpriced += tokens
      continue
    }
    const v = new Decimal(tokens).times(p).times('0.000001')
    c[field] = c[field].plus(v)
    c.total = c.total.plus(v)
  }
  return c
}

/** The local calendar date (YYYY-MM-DD) of an instant in a time zone. */
export function localDate(d: Date, timeZone: string): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(d)
}

/** Deterministic pseudo-random numbers (mulberry32), so generated datasets are reproducible. */
export function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
