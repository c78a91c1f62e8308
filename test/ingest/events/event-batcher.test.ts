import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { createPostgresDb, type Db } from '../../../src/db/client.js'
import { createTenant } from '../../../src/db/queries/tenants.js'
import { createEventBatcher, type EventBatcherOptions } from '../../../src/ingest/events/event-batcher.js'
import { eachEngine, freshDb, holdLocks, uniqueId } from '../../helpers.js'

type Ev = Record<string, unknown>
const event = (id: string, extra: Ev = {}): Ev => ({
  id,
  timestamp: '2026-03-01T10:15:00Z',
  model: 'gpt-4o',
  input_tokens: 100,
  output_tokens: 10,
  ...extra,
})

/** A batcher that records every group it stores. */
function recorded(db: Db, opts: EventBatcherOptions = {}) {
  const groups: { requests: number; events: number; fallback: boolean }[] = []
  const fallbacks: unknown[] = []
  const batcher = createEventBatcher(db, {
    ...opts,
    onFlush: (g) => groups.push(g),
    onFallback: (err) => fallbacks.push(err),
  })
  return { batcher, groups, fallbacks }
}

const statuses = (results: { status: string }[]) => results.map((r) => r.status)

void eachEngine(t, async (t, engine) => {
  const db = await freshDb(t, engine)
  const tenant = async () => {
    const id = uniqueId('tenant')
    await createTenant(db, { id, name: id })
    return id
  }
  const stored = async (tenantId: string) => {
    const [row] = await db.query<{ events: number; rollup_requests: number | null; rollup_input: number | null }>(
      `select (select count(*) from usage_events where tenant_id = $1)::int8 as events,
              (select sum(num_model_requests) from usage_event_rollups where tenant_id = $1)::int8 as rollup_requests,
              (select sum(input_tokens) from usage_event_rollups where tenant_id = $1)::int8 as rollup_input`,
      [tenantId],
    )
    return row!
  }

  t.test('requests that arrive while a group is being formed share one statement, each with its own results', async (t) => {
    const tenantId = await tenant()
    const { batcher, groups } = recorded(db)
    const out = await Promise.all([
      batcher.ingest(tenantId, [event('a-1'), event('a-2')]),
      batcher.ingest(tenantId, [event('b-1'), { id: 'b-bad', model: 'gpt-4o' }]),
      batcher.ingest(tenantId, [event('c-1')]),
    ])
    t.same(out.map(statuses), [['created', 'created'], ['created', 'rejected'], ['created']])
    t.same(groups, [{ requests: 3, events: 4, fallback: false }])
    t.same(await stored(tenantId), { events: 4, rollup_requests: 4, rollup_input: 400 })
  })

  t.test('the same id in several requests of one group: the first wins, later ones compare with it', async (t) => {
    const tenantId = await tenant()
    const { batcher, groups } = recorded(db)
    const out = await Promise.all([
      batcher.ingest(tenantId, [event('x')]),
      batcher.ingest(tenantId, [event('x', { output_tokens: 11 })]),
      batcher.ingest(tenantId, [event('x')]),
    ])
    t.same(out.map(statuses), [['created'], ['rejected'], ['duplicate']])
    t.match(out[1]![0]!.errors, [{ path: 'id', message: /different content is already stored/ }])
    t.equal(groups.length, 1)
    t.same(await stored(tenantId), { events: 1, rollup_requests: 1, rollup_input: 100 })
  })

  t.test('later occurrences in a group compare with the stored content when the first one conflicts', async (t) => {
    const tenantId = await tenant()
    const { batcher } = recorded(db)
    t.same(statuses(await batcher.ingest(tenantId, [event('y')])), ['created'])
    const out = await Promise.all([
      batcher.ingest(tenantId, [event('y', { output_tokens: 1 })]),
      batcher.ingest(tenantId, [event('y')]),
    ])
    t.same(out.map(statuses), [['rejected'], ['duplicate']])
    t.same(await stored(tenantId), { events: 1, rollup_requests: 1, rollup_input: 100 })
  })

  t.test('20 concurrent single-event retries count once', async (t) => {
    const tenantId = await tenant()
    const { batcher } = recorded(db)
    const out = await Promise.all(Array.from({ length: 20 }, () => batcher.ingest(tenantId, [event('r')])))
    const all = out.flat().map((r) => r.status)
    t.equal(all.filter((s) => s === 'created').length, 1)
    t.equal(all.filter((s) => s === 'duplicate').length, 19)
    t.same(await stored(tenantId), { events: 1, rollup_requests: 1, rollup_input: 100 })
  })

  t.test('a group statement that fails on one request’s data is retried request by request', async (t) => {
    const tenantId = await tenant()
    const { batcher, groups, fallbacks } = recorded(db)
    await batcher.ingest(tenantId, [event('seed', { model: 'near-limit' })])
    // The next event of this rollup row pushes its sum past the int8 range.
    await db.query(`update usage_event_rollups set input_tokens = 9223372036854775000 where tenant_id = $1 and model = 'near-limit'`, [
      tenantId,
    ])
    const settled = await Promise.allSettled([
      batcher.ingest(tenantId, [event('ok-1')]),
      batcher.ingest(tenantId, [event('overflow', { model: 'near-limit', input_tokens: 1_000_000 })]),
      batcher.ingest(tenantId, [event('ok-2'), event('ok-3')]),
    ])
    t.same(settled.map((s) => s.status), ['fulfilled', 'rejected', 'fulfilled'])
    t.match((settled[1] as PromiseRejectedResult).reason, { code: '22003' })
    t.same(statuses((settled[0] as PromiseFulfilledResult<{ status: string }[]>).value), ['created'])
    t.same(statuses((settled[2] as PromiseFulfilledResult<{ status: string }[]>).value), ['created', 'created'])
    t.equal(fallbacks.length, 1)
    t.match(groups.at(-1), { requests: 3, fallback: true })
    const ids = await db.query<{ id: string }>('select id from usage_event_ids where tenant_id = $1 order by id', [tenantId])
    t.same(ids.map((r) => r.id), ['ok-1', 'ok-2', 'ok-3', 'seed'])
  })

  t.test('with two groups in flight, the same id in both still counts once', async (t) => {
    const tenantId = await tenant()
    const { batcher, groups } = recorded(db, { maxInFlight: 2, maxGroupEvents: 1 })
    const out = await Promise.all(Array.from({ length: 10 }, () => batcher.ingest(tenantId, [event('twice')])))
    t.same(out.flat().map((r) => r.status).sort(), ['created', ...Array(9).fill('duplicate')])
    t.equal(groups.length, 10)
    t.same(await stored(tenantId), { events: 1, rollup_requests: 1, rollup_input: 100 })
  })

  t.test('tenants are grouped separately', async (t) => {
    const [a, b] = [await tenant(), await tenant()]
    const { batcher, groups } = recorded(db)
    const out = await Promise.all([batcher.ingest(a, [event('same')]), batcher.ingest(b, [event('same')])])
    t.same(out.map(statuses), [['created'], ['created']])
    t.same(groups.map((g) => g.requests), [1, 1])
  })

  t.test('a request with more events than maxRequestEvents is stored on its own', async (t) => {
    const tenantId = await tenant()
    const { batcher, groups } = recorded(db, { maxRequestEvents: 2 })
    const out = await Promise.all([
      batcher.ingest(tenantId, [event('big-1'), event('big-2'), event('big-3')]),
      batcher.ingest(tenantId, [event('small-1')]),
    ])
    t.same(out.map(statuses), [['created', 'created', 'created'], ['created']])
    t.same(groups, [{ requests: 1, events: 1, fallback: false }])
  })

  t.test('groups stop at maxGroupEvents; the rest form the next group', async (t) => {
    const tenantId = await tenant()
    const { batcher, groups } = recorded(db, { maxGroupEvents: 3 })
    await Promise.all([
      batcher.ingest(tenantId, [event('g-1'), event('g-2')]),
      batcher.ingest(tenantId, [event('g-3')]),
      batcher.ingest(tenantId, [event('g-4')]),
    ])
    t.same(groups.map((g) => g.requests), [2, 1])
    t.same(await stored(tenantId), { events: 4, rollup_requests: 4, rollup_input: 400 })
  })

  t.test('behind a group that does not return, a request waits at most maxWaitMs, then fails unwritten', async (t) => {
    const tenantId = await tenant()
    const { batcher } = recorded(db, { maxWaitMs: 300 })
    // What the group statement needs is held elsewhere: on PostgreSQL a lock on usage_events taken by
    // another session; PGlite runs one statement at a time, so an open transaction holds it all.
    const lock = await holdLocks(t, db, 'lock table usage_events in access exclusive mode')
    const stuck = batcher.ingest(tenantId, [event('stuck-1')])
    await sleep(50) // its group is in flight, waiting for what is held
    const started = Date.now()
    const late = await Promise.allSettled([batcher.ingest(tenantId, [event('late-1')]), batcher.ingest(tenantId, [event('late-2')])])
    const waited = Date.now() - started
    t.same(late.map((s) => s.status), ['rejected', 'rejected'], 'the requests behind it are answered')
    t.match((late[0] as PromiseRejectedResult).reason, { code: 'DB_ACQUIRE_TIMEOUT' }, 'as a saturated database (503 + Retry-After)')
    t.ok(waited >= 250 && waited < 5_000, `after ~300 ms (${waited} ms)`)
    await lock.release()
    t.same(statuses(await stuck), ['created'], 'the group in flight is stored once what it waited for is free')
    t.same(await stored(tenantId), { events: 1, rollup_requests: 1, rollup_input: 100 }, 'and the requests that gave up wrote nothing')
    const again = await batcher.ingest(tenantId, [event('late-1')])
    t.same(statuses(again), ['created'], 'a retry of one that gave up is stored')
  })
})

t.test('an unreachable database fails the whole group at once, without retrying each request', async (t) => {
  // A real client aimed at a closed port: every statement fails with ECONNREFUSED.
  const db = createPostgresDb({ url: 'postgres://postgres@127.0.0.1:1/none' })
  t.teardown(() => db.close())
  const { batcher, fallbacks } = recorded(db)
  const settled = await Promise.allSettled([batcher.ingest('t', [event('a')]), batcher.ingest('t', [event('b')])])
  t.same(settled.map((s) => s.status), ['rejected', 'rejected'])
  t.match((settled[0] as PromiseRejectedResult).reason, { code: 'ECONNREFUSED' })
  t.equal(fallbacks.length, 0)
})
