// What one benchmark row records, and how the table is printed.
import type { Engine } from '../../src/db/client.js'

export interface Metric {
  /** The row of issue #6's targets table. */
  row: number
  engine: Engine | 'pglite vs postgres'
  name: string
  value: number
  unit: string
  baseline: number | null
  baselineName: string | null
  /** value / baseline. */
  ratio: number | null
  target: string
  /** Whether the target is met; null where the target is "reported" or does not apply to this engine. */
  met: boolean | null
  /** Supporting numbers (latency percentiles, row counts, RSS samples). */
  details?: Record<string, number | string>
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

export async function timeIt(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now()
  await fn()
  return performance.now() - t0
}

/**
 * Runs fn over items with `concurrency` callers; returns the wall time in ms. After a failure no
 * caller takes another item, and the error is thrown once the ones in flight have settled, so no
 * stray requests run into the next measurement.
 */
export async function pool<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<number> {
  let next = 0
  let failed = false
  const t0 = performance.now()
  const settled = await Promise.allSettled(
    Array.from({ length: concurrency }, async () => {
      while (!failed && next < items.length) {
        try {
          await fn(items[next++]!)
        } catch (err) {
          failed = true
          throw err
        }
      }
    }),
  )
  const rejected = settled.find((s) => s.status === 'rejected')
  if (rejected) throw (rejected as PromiseRejectedResult).reason
  return performance.now() - t0
}

const fmt = (n: number | null) =>
  n === null || Number.isNaN(n) ? '—' : Math.abs(n) >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(2)

export function table(metrics: Metric[]): string {
  return [
    '| # | engine | metric | tokenledger | baseline (same run) | ratio | target | met |',
    '|---|---|---|---|---|---|---|---|',
    ...metrics.map((m) =>
      [
        m.row,
        m.engine,
        m.name,
        `${fmt(m.value)} ${m.unit}`,
        m.baselineName ? `${fmt(m.baseline)} ${m.unit} (${m.baselineName})` : '—',
        m.ratio === null ? '—' : `${m.ratio.toFixed(2)}×`,
        m.target,
        m.met === null ? '—' : m.met ? 'yes' : '**no**',
      ].join(' | '),
    ).map((line) => `| ${line} |`),
  ].join('\n')
}
