import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { selectSources } from '../../src/usage/dimensions.js'
import { createExportGate } from '../../src/usage/export-gate.js'
import { streamUsage } from '../../src/usage/stream-usage.js'
import { findVisibleCard } from '../../src/pricing/card-lookup.js'
import type { UsageSpec } from '../../src/usage/usage-sql.js'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

// The REST exports read a usage statement through a cursor (PostgreSQL) that is closed when the reader
// stops pulling for a while (a slow client behind a full socket). The closed cursor used to end the
// stream as if the rows had run out: the CSV export went on with empty buckets and ended normally,
// silently missing rows. A reader that pulls again after its cursor was closed now gets an error.
// The server's export slot (EXPORT_CONCURRENCY) is held exactly as long as the cursor's connection.

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key, tenantId } = await tenantWithKey(app)
  const bucket = (project: string) => ({
    start_time: '2026-03-01T00:00:00Z', end_time: '2026-03-01T01:00:00Z', model: 'gpt-4o-mini', project_id: project, num_model_requests: 1, input_tokens: 10, output_tokens: 1,
  })
  const res = await app.inject({ method: 'POST', url: '/v1/usage/buckets', headers: bearer(key), payload: { buckets: ['p1', 'p2', 'p3'].map(bucket) } })
  t.equal(res.statusCode, 200, res.body)

  const card = await findVisibleCard(app.testDb, tenantId, 'default')
  if (!card) throw new Error('the default card is visible to every tenant')
  const spec: UsageSpec = {
    tenantId, from: new Date('2026-03-01T00:00:00Z'), to: new Date('2026-03-02T00:00:00Z'), window: 'TOTAL', timeZone: 'UTC',
    groupBy: ['PROJECT'], groupByLabels: [], filter: {}, sources: selectSources({}, ['PROJECT'], []),
    pricing: { cardId: card.id, asOf: new Date() },
  }

  t.test('a reader that pauses past the idle limit never gets a short result', async (t) => {
    // One row per FETCH, and a cursor closed after 200 ms without a pull.
    const stream = await streamUsage(app.testDb, spec, { maxGroups: 1000, currency: 'USD', onTooLarge: () => new Error('too large'), batch: 1, idleMs: 200 })
    const projects: unknown[] = []
    let failed: unknown
    try {
      const first = await stream.next()
      if (!first.done) projects.push(...first.value.map((r) => r.projectId))
      await sleep(600)
      for await (const rows of stream) projects.push(...rows.map((r) => r.projectId))
    } catch (err) {
      failed = err
    } finally {
      await stream.return()
    }
    if (engine === 'postgres') t.match(failed, { message: /cursor was closed/ }, 'the reader is told its cursor is gone')
    else t.same(projects, ['p1', 'p2', 'p3'], 'PGlite reads the whole result at once')
  })

  t.test('the export slot is held while the cursor is, and given back at its last row, at the idle limit and on return()', async (t) => {
    const gate = createExportGate({ size: 1, maxWaitMs: 100, retryAfterSeconds: 1 })
    const open = () => streamUsage(app.testDb, spec, { maxGroups: 1000, currency: 'USD', onTooLarge: () => new Error('too large'), batch: 1, idleMs: 200, exportGate: gate })
    // PostgreSQL holds the connection (and the slot) until the cursor is done; PGlite only for its one query.
    const whileOpen = engine === 'postgres' ? 1 : 0

    const read = await open()
    t.equal(gate.held(), whileOpen, 'held while the cursor is open')
    if (engine === 'postgres') t.match(await open().catch((e: unknown) => e), { statusCode: 503, headers: { 'retry-after': '1' } }, 'the next one waits, then 503')
    let rows = 0
    for await (const batch of read) rows += batch.length
    t.equal(rows, 3)
    t.equal(gate.held(), 0, 'given back at the last row')

    const idle = await open()
    await idle.next()
    // The idle timer (200 ms) closes the cursor, then its transaction ends (a round trip to PostgreSQL) and
    // gives the slot back: waited for (10 s at most) rather than slept for, as a loaded machine is slow.
    const until = Date.now() + 10_000
    while (gate.held() !== 0 && Date.now() < until) await sleep(20)
    t.equal(gate.held(), 0, 'given back at the idle limit, while the stream is still open')
    await idle.return()

    const left = await open()
    t.equal(gate.held(), whileOpen)
    await left.return()
    t.equal(gate.held(), 0, 'given back when the reader leaves')

    const refused = await streamUsage(app.testDb, spec, { maxGroups: 1, currency: 'USD', onTooLarge: () => new Error('too large'), batch: 1, exportGate: gate }).catch((e: unknown) => e)
    t.match(refused, { message: 'too large' })
    t.equal(gate.held(), 0, 'given back when the query is refused')
  })
})
