import { Decimal } from 'decimal.js'
import Fastify from 'fastify'
import t from 'tap'
import app from '../../src/app.js'
import { bearer, eachEngine, freshDb, recordStatements, tenantWithKey, testConfig } from '../helpers.js'

/**
 * `GET /v1/reconciliation` as CSV reads and compares the range once. It walked the JSON pages
 * (1,000 rows each), and every page reads both sides of the whole range afresh: the export of n rows
 * did ⌈n/1000⌉ whole reconciliations, and a bill posted between two of them could change the rows
 * mid-file. Counting the statements that read billed costs proves it where a stopwatch would not.
 */
const DAY = 1759276800 // 2025-10-01T00:00:00Z
const GROUPS = 2_500

void eachEngine(t, async (t, engine) => {
  const db = await freshDb(t, engine)
  // Statements inside transactions too (reconciliation reads both sides in one, a REST page streams in one).
  const { db: counting, statements } = recordStatements(db)
  const server = Fastify({ logger: false })
  await server.register(app, { config: testConfig(), db: counting })
  await server.ready()
  t.teardown(() => server.close())
  const { key } = await tenantWithKey(server, ['ingest', 'read'])
  const buckets = Array.from({ length: GROUPS }, (_, i) => ({
    start_time: DAY, end_time: DAY + 3600, project_id: `p${String(i).padStart(5, '0')}`, model: 'gpt-4o-mini', input_tokens: 1000 + i,
  }))
  const posted = await server.inject({ method: 'POST', url: '/v1/usage/buckets', headers: bearer(key), payload: { buckets } })
  t.equal(posted.statusCode, 200, posted.body)

  const url = `/v1/reconciliation?from=${DAY}&to=${DAY + 86_400}&group_by=project`
  const billedReads = () => statements.filter((s) => /from billed_costs/.test(s)).length
  // One reconciliation's reads of billed costs (the range's edges, then the bills): a first JSON page.
  const first = billedReads()
  const json = await server.inject({ method: 'GET', url: `${url}&first=1000`, headers: bearer(key) })
  t.equal(json.statusCode, 200, json.body)
  const totals = json.json().totals as { computed: string }
  const once = billedReads() - first
  t.ok(once >= 1, `a reconciliation reads billed costs (${once} statements)`)

  const before = billedReads()
  const csv = await server.inject({ method: 'GET', url, headers: { ...bearer(key), accept: 'text/csv' } })
  t.equal(csv.statusCode, 200, csv.body.slice(0, 500))
  t.equal(billedReads() - before, once, 'billed costs are read once for the whole export, not once per 1,000 rows')

  const lines = csv.body.trimEnd().split('\n')
  t.equal(lines.length, GROUPS + 1, 'a header and every group')
  const projects = lines.slice(1).map((l) => l.split(',')[4])
  t.same(projects, buckets.map((b) => b.project_id), 'each group once, in order')
  const computedColumn = lines[0]!.split(',').indexOf('computed')
  const sum = lines.slice(1).reduce((acc, l) => acc.plus(l.split(',')[computedColumn]!), new Decimal(0))
  t.ok(sum.equals(totals.computed), `the rows add up to the JSON listing's totals (${sum.toFixed()} vs ${totals.computed})`)
})
