// Row 9's PostGraphile side (PostgreSQL only): the matrix cases PostGraphile 5 + pg-aggregates can
// express — UTC (it truncates in the session zone, UTC here), HOUR, DAY or TOTAL windows (its time
// groupings are truncated-to-hour and -day) — through groupedAggregates, beside tokenledger's GraphQL
// for the same case, interleaved. Each answer is checked against the raw GROUP BY first.
import type { Dimension } from '../../src/usage/dimensions.js'
import { RANGE } from './data.js'
import type { Raw } from './database.js'
import { caseName, graphqlGroups, type MatrixCase, matrixCases, rawGroups } from './matrix.js'
import { type Metric, median, timeIt } from './metrics.js'
import { type Ctx, startPostgraphile } from './rows.js'

const GROUP_ENUM: Partial<Record<Dimension, string>> = { PROJECT: 'PROJECT_ID', API_KEY: 'API_KEY_ID', USER: 'USER_ID', MODEL: 'MODEL' }
const TIME_ENUM: Partial<Record<MatrixCase['window'], string>> = { HOUR: 'START_TIME_TRUNCATED_TO_HOUR', DAY: 'START_TIME_TRUNCATED_TO_DAY' }

const expressible = (c: MatrixCase) =>
  c.timeZone === 'UTC' && (c.window === 'TOTAL' || TIME_ENUM[c.window] !== undefined) && c.groupBy.every((d) => GROUP_ENUM[d] !== undefined)

async function postgraphileGroups(url: string, c: MatrixCase): Promise<string[]> {
  const time = c.window === 'TOTAL' ? [] : [TIME_ENUM[c.window]!]
  const groupBy = [...time, ...c.groupBy.map((d) => GROUP_ENUM[d]!)]
  const query = `{ allUsageBuckets(condition: { tenantId: "bench" },
      filter: { startTime: { greaterThanOrEqualTo: "${RANGE.from}", lessThan: "${RANGE.to}" } }) {
      groupedAggregates(groupBy: [${groupBy.join(', ')}]) { keys sum { inputTokens outputTokens } } } }`
  const res = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) })
  const body = (await res.json()) as {
    errors?: unknown
    data?: { allUsageBuckets: { groupedAggregates: { keys: (string | null)[]; sum: { inputTokens: string; outputTokens: string } }[] } }
  }
  if (body.errors || !body.data) throw new Error(`PostGraphile ${caseName(c)}: ${res.status} ${JSON.stringify(body.errors).slice(0, 500)}`)
  return body.data.allUsageBuckets.groupedAggregates
    .map((g) => {
      const w = c.window === 'TOTAL' ? new Date(RANGE.from).getTime() : new Date(g.keys[0]!).getTime()
      const dims = g.keys.slice(time.length).map((k) => String(k))
      return [String(w), ...dims, BigInt(g.sum.inputTokens).toString(), BigInt(g.sum.outputTokens).toString()].join('|')
    })
    .sort()
}

export async function benchMatrixPostgraphile(ctx: Ctx, repeats: number, raw: Raw, databaseUrl: string): Promise<Metric[]> {
  ctx.log(`[${ctx.engine}] row 9: starting PostGraphile`)
  const pgl = await startPostgraphile(databaseUrl)
  const metrics: Metric[] = []
  try {
    for (const c of matrixCases().filter(expressible)) {
      const name = caseName(c)
      ctx.log(`[${ctx.engine}] row 9: ${name} vs PostGraphile`)
      const expected = await rawGroups(raw, 'bench', c)
      const theirs = await postgraphileGroups(pgl.url, c)
      if (theirs.join('\n') !== expected.join('\n'))
        throw new Error(`row 9 ${name}: PostGraphile (${theirs.length} groups) differs from the raw GROUP BY (${expected.length}), e.g. ${theirs.filter((g) => !expected.includes(g)).slice(0, 3).join('; ')}`)
      const oursMs: number[] = []
      const theirsMs: number[] = []
      for (let i = 0; i < repeats; i++) {
        oursMs.push(await timeIt(() => graphqlGroups(ctx, c)))
        theirsMs.push(await timeIt(() => postgraphileGroups(pgl.url, c)))
      }
      const o = median(oursMs)
      const t = median(theirsMs)
      metrics.push({
        row: 9,
        engine: ctx.engine,
        name: `GraphQL usage 30 d ${name}, priced, p50, vs PostGraphile`,
        value: o,
        unit: 'ms',
        baseline: t,
        baselineName: 'PostGraphile 5 + pg-aggregates groupedAggregates (unpriced)',
        ratio: o / t,
        target: 'reported',
        met: null,
      })
    }
  } finally {
    await pgl.stop()
  }
  return metrics
}
