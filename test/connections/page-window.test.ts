import t from 'tap'
import { eachEngine } from '../helpers.js'
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
