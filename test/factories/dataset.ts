import { rng } from './expected.js'
import type { SeedBucket, SeedRate } from './usage.js'

const MODELS = ['gpt-5-mini-2025-08-07', 'gpt-5-2025-08-07', 'gpt-4o-audio-preview-2025-06-03', 'mystery-model']
const TIERS = ['default', 'flex', 'priority']

export const RATES: SeedRate[] = [
  { model: 'gpt-5-mini*', effectiveFrom: new Date('2025-01-01T00:00:00Z'), prices: { input: '0.25', cached_input: '0.025', output: '2', cache_write: '0.3' } },
  { model: 'gpt-5-mini*', effectiveFrom: new Date('2025-10-29T17:00:00Z'), prices: { input: '0.2', cached_input: '0.02', output: '1.6', cache_write: '0.25' } },
  { model: 'gpt-5*', effectiveFrom: new Date('2025-01-01T00:00:00Z'), prices: { input: '1.25', cached_input: '0.125', output: '10' } },
  { model: 'gpt-5*', serviceTier: 'flex', effectiveFrom: new Date('2025-01-01T00:00:00Z'), prices: { input: '0.625', cached_input: '0.0625', output: '5' } },
  { model: 'gpt-5-mini*', batch: true, effectiveFrom: new Date('2025-01-01T00:00:00Z'), prices: { input: '0.125', cached_input: '0.0125', output: '1' } },
  { model: 'gpt-4o-audio-preview-2025-06-03', effectiveFrom: new Date('2025-01-01T00:00:00Z'), prices: { input: '2.5', output: '10', input_audio: '40', output_audio: '80' } },
]

/** A month around the US DST change (2025-11-02), several dimensions, audio and partial prices. */
export function dataset(seed: number, n: number): SeedBucket[] {
  const r = rng(seed)
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)]!
  const out: SeedBucket[] = []
  for (let i = 0; i < n; i++) {
    const hour = Math.floor(r() * 24 * 30)
    const start = new Date(Date.parse('2025-10-15T00:00:00Z') + hour * 3_600_000)
    const model = pick(MODELS)
    out.push({
      start,
      end: new Date(start.getTime() + 3_600_000),
      model,
      projectId: pick(['proj_a', 'proj_b', null]),
      userId: pick(['u1', 'u2', 'u3']),
      apiKeyId: `key_${i}`,
      serviceTier: pick(TIERS),
      batch: pick([false, true, null]),
      requests: 1 + Math.floor(r() * 20),
      inText: Math.floor(r() * 100_000),
      cachedText: Math.floor(r() * 20_000),
      cacheWrite: r() < 0.2 ? Math.floor(r() * 5_000) : 0,
      outText: Math.floor(r() * 50_000),
      inAudio: model.includes('audio') ? Math.floor(r() * 9_000) : 0,
      outAudio: model.includes('audio') ? Math.floor(r() * 3_000) : 0,
      accountId: pick(['org_1', 'org_2']),
      provider: pick(['openai', 'openai', 'azure']),
      source: pick(['api', 'openai_csv']),
    })
  }
  return out
}
