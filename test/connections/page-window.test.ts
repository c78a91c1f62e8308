import t from 'tap'
import { eachEngine } from '../helpers.js'
import { waitForRun } from './support/harness.js'
import { bucket, HOUR, misbehaving, pull, usage } from './support/misbehaving.js'

const storedStarts = async (state: Awaited<ReturnType<typeof pull>>) =>
  (await state.app.testDb.query<{ s: string }>('select extract(epoch from start_time)::bigint::text as s from usage_buckets where tenant_id = $1 order by 1', [state.tenantId])).map((r) => Number(r.s))

void t.test('a bucket outside the window asked for fails the endpoint and nothing of its page is stored', (t) =>
  eachEngine(t, async (t, engine) => {
    for (const [what, stray] of [
      ['two days before the window', (q: { start: number; end: number }) => q.start - 48 * HOUR],
      ['a day after its end (the future)', (q: { start: number; end: number }) => q.end + 24 * HOUR],
      ['straddling its start', (q: { start: number; end: number }) => q.start - HOUR / 2],
    ] as const) {
      const provider = await misbehaving(t, (q) => ({ object: 'page', data: [bucket(q.start, [usage]), bucket(stray(q), [usage])], has_more: false, next_page: null }))
      const state = await pull(t, engine, provider.url)
      t.equal(state.last_run?.status, 'failed', what)
      t.match(state.last_run?.error, /^completions: the provider answered a bucket \S+ outside the window asked for, \S+; nothing of that page was stored$/, what)
      t.same(await storedStarts(state), [], `${what}: nothing stored`)
      t.equal(state.synced_until.completions, null, `${what}: synced_until stays`)
    }
  }),
)

void t.test('a page that leaves buckets out never moves synced_until past them: a later run pulls them', (t) =>
  eachEngine(t, async (t, engine) => {
    for (const [what, firstPage, coveredHours] of [
      ['a sparse page (the first hour, then the sixth)', [0, 5], 1],
      ['pages out of order (the sixth hour first)', [5], 0],
    ] as const) {
      let broken = true
      // Broken: the first page has the hours `firstPage` and says has_more; the next page never comes (500).
      // Mended: every hour of the window asked for, each with usage.
      const provider = await misbehaving(t, (q, reply) => {
        if (!broken) return { object: 'page', data: Array.from({ length: (q.end - q.start) / HOUR }, (_, i) => bucket(q.start + i * HOUR, [usage])), has_more: false, next_page: null }
        if (q.page > 0) return reply.status(500).send({ error: { message: 'The server had an error' } })
        return { object: 'page', data: firstPage.map((h) => bucket(q.start + h * HOUR, [usage])), has_more: true, next_page: '1' }
      })
      const state = await pull(t, engine, provider.url)
      const first = Number(new URL(provider.requests[0]!, 'http://x').searchParams.get('start_time'))
      t.equal(state.last_run?.status, 'failed', what)
      t.equal(state.synced_until.completions, coveredHours ? new Date((first + coveredHours * HOUR) * 1000).toISOString() : null, `${what}: synced_until stops where the hours left out begin`)
      t.same(await storedStarts(state), firstPage.map((h) => first + h * HOUR), `${what}: the page's buckets are stored`)

      broken = false
      const res = await state.app.inject({ method: 'POST', url: `/v1/connections/${state.connectionId}/sync`, headers: state.headers })
      t.equal(res.statusCode, 202, what)
      const again = await waitForRun(state.app, state.headers, state.connectionId)
      t.equal(again.last_run?.status, 'succeeded', `${what}: ${JSON.stringify(again.last_run)}`)
      t.same((await storedStarts(state)).slice(0, 6), [0, 1, 2, 3, 4, 5].map((h) => first + h * HOUR), `${what}: every hour the broken page left out is stored by the next run`)
    }
  }),
)

void t.test('a next_page cursor longer than 4096 characters fails the endpoint; it is neither sent nor kept', (t) =>
  eachEngine(t, async (t, engine) => {
    const provider = await misbehaving(t, (q) => ({ object: 'page', data: [bucket(q.start + q.page * HOUR, [usage])], has_more: q.page === 0, next_page: q.page === 0 ? '1'.padEnd(1_000_000, '0') : null }))
    const state = await pull(t, engine, provider.url)
    t.equal(state.last_run?.status, 'failed')
    t.match(state.last_run?.error, /^completions: the provider's next_page cursor is 1000000 characters long, more than 4096; stopped rather than send it$/)
    t.equal(provider.requests.length, 1, 'the cursor was never sent')
  }),
)
