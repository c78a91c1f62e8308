import Fastify from 'fastify'
import t from 'tap'
import app from '../../src/app.js'
import { maintainPartitions, retentionCutoff, utcMonth } from '../../src/db/partitions.js'
import { postBuckets } from '../factories/buckets.js'
import { clearOfMonthTurn } from '../factories/turns.js'
import { bearer, build, eachEngine, isProblem, tenantWithKey, testConfig } from '../helpers.js'

// Retention drops raw month partitions while the hourly rollups keep those hours. A re-import of rows
// older than the cutoff would be stored again and added to the rollup: counted twice. Every write path
// refuses such rows (buckets JSON and CSV, resources, events one by one, DELETE of such ranges); the
// re-post after retention leaves every total unchanged.

const MONTHS = 2
// The `kept` server reads its own clock for its cutoff: the whole file (12 s here, both engines) runs in
// `now`'s month, or the server's cutoff moved a month past `cutoff` when a month turned meanwhile.
const now = await clearOfMonthTurn(120_000)
const cutoff = retentionCutoff(MONTHS, now)!
const old = utcMonth(now, -MONTHS - 2) // wholly before the cutoff
const recent = utcMonth(now, 0)
const sec = (d: Date, plusHours = 0) => d.getTime() / 1000 + plusHours * 3600

const bucket = (at: Date, input: number) => ({ start_time: sec(at), end_time: sec(at, 1), model: 'gpt-4o-mini', input_tokens: input, output_tokens: 7, num_model_requests: 1 })
const resource = (at: Date) => ({ start_time: sec(at), end_time: sec(at, 1), provider: 'openai', model: 'dall-e-2', resource: 'images', quantity: 2, attributes: { size: '256x256' } })
const event = (id: string, at: Date) => ({ id, timestamp: at.toISOString(), model: 'gpt-4o-mini', input_tokens: 100, output_tokens: 5 })
const csvOf = (at: Date, input: number) =>
  `start_time,end_time,project_id,num_model_requests,user_id,api_key_id,model,batch,input_tokens,output_tokens\n${sec(at, 2)},${sec(at, 3)},,1,,,gpt-4o-mini,FALSE,${input},3\n`

// Token totals: provider resources have no rollup, so retention takes their raw rows (and cost) away.
const TOTALS = `query($from: DateTime!, $to: DateTime!) {
  usage(from: $from, to: $to, window: TOTAL) { totals { requests inputTokens outputTokens cost { input output } } } }`

void eachEngine(t, async (t, engine) => {
  // `open` has no retention (it stored the old month while it was young); `kept` runs with RETENTION_MONTHS.
  const open = await build(t, engine, { PARTITION_MAINTENANCE_INTERVAL_MS: 'off' })
  const kept = Fastify({ logger: false })
  await kept.register(app, { config: testConfig({ RETENTION_MONTHS: String(MONTHS), PARTITION_MAINTENANCE_INTERVAL_MS: 'off' }), db: open.testDb })
  await kept.ready()
  t.teardown(() => kept.close())
  const { key } = await tenantWithKey(open, ['ingest', 'read'])

  const totals = async (from: Date, to: Date) => {
    const res = await kept.inject({ method: 'POST', url: '/graphql', headers: bearer(key), payload: { query: TOTALS, variables: { from, to } } })
    const body = res.json() as { data: { usage: { totals: unknown } }; errors?: unknown }
    t.equal(body.errors, undefined, JSON.stringify(body.errors))
    return body.data.usage.totals
  }
  const oldTotals = () => totals(old, utcMonth(old, 1))

  t.equal((await postBuckets(open, key, { buckets: [bucket(old, 1000), bucket(recent, 50)], resources: [resource(old)] })).statusCode, 200)
  t.equal((await postBuckets(open, key, csvOf(old, 300), 'text/csv')).statusCode, 200)
  const ev = await open.inject({ method: 'POST', url: '/v1/usage/events', headers: bearer(key), payload: { events: [event('e-old', old)] } })
  t.match(ev.json(), { results: [{ status: 'created' }] })
  const before = await oldTotals()
  t.match(before, { inputTokens: 1300, requests: 2 }, 'the old month: two buckets (events are not a default source)')

  // Retention, as the server runs it: the old month's raw rows go, the rollups keep its hours.
  await maintainPartitions(open.testDb, { retentionMonths: MONTHS, monthsAhead: 0 }, now)
  const [raw] = await open.testDb.query<{ n: number }>('select count(*)::int as n from usage_buckets where start_time < $1', [cutoff])
  t.equal(Number(raw!.n), 0, 'raw rows before the cutoff are gone')
  t.same(await oldTotals(), before, 'the rollups still answer for the old month')

  t.test('re-posting buckets and resources before the cutoff is a 400 naming each row and the setting', async (t) => {
    const res = await postBuckets(kept, key, { buckets: [bucket(recent, 1), bucket(old, 1000)], resources: [resource(old)] })
    t.equal(res.statusCode, 400)
    t.ok(isProblem(res))
    const errors = (res.json() as { errors: { index: number; path: string; message: string }[] }).errors
    t.match(errors, [
      { index: 1, path: 'start_time', message: /before the retention cutoff .*RETENTION_MONTHS=2/ },
      { index: 0, path: 'resources.start_time', message: /RETENTION_MONTHS=2/ },
    ])
    t.equal(errors.length, 2, 'the recent row is not named')
    const csv = await postBuckets(kept, key, csvOf(old, 300), 'text/csv')
    t.equal(csv.statusCode, 400)
    t.match(csv.json(), { errors: [{ line: 2, path: 'start_time', message: new RegExp(`cutoff ${cutoff.toISOString()}`) }] })
    t.same(await oldTotals(), before, 'totals unchanged: nothing counted twice')
  })

  t.test('events before the cutoff are rejected one by one; the others stand', async (t) => {
    const res = await kept.inject({ method: 'POST', url: '/v1/usage/events', headers: bearer(key), payload: { events: [event('e-old-2', old), event('e-new', recent)] } })
    t.equal(res.statusCode, 200)
    t.match(res.json(), { results: [{ id: 'e-old-2', status: 'rejected', errors: [{ path: 'timestamp', message: /RETENTION_MONTHS=2/ }] }, { id: 'e-new', status: 'created' }] })
    t.same(await oldTotals(), before)
  })

  t.test('DELETE of a range starting before the cutoff is refused; from the cutoff on it works', async (t) => {
    const url = (from: number, to: number) => `/v1/usage/buckets?start_time=${from}&end_time=${to}`
    const refused = await kept.inject({ method: 'DELETE', url: url(sec(old), sec(utcMonth(now, 1))), headers: bearer(key) })
    t.equal(refused.statusCode, 400)
    t.match(refused.json(), { errors: [{ path: 'querystring.start_time', message: /RETENTION_MONTHS=2/ }] })
    t.same(await oldTotals(), before)
    const ok = await kept.inject({ method: 'DELETE', url: url(sec(cutoff), sec(utcMonth(now, 1))), headers: bearer(key) })
    t.same(ok.json(), { deleted: 1 }, 'the recent bucket')
  })

  t.test('without the guard the same re-post would have counted twice (why it exists)', async (t) => {
    t.equal((await postBuckets(open, key, { buckets: [bucket(old, 1000)] })).statusCode, 200)
    t.match(await oldTotals(), { inputTokens: 2300 }, 'the rollup holds the old hour and the re-import')
  })
})
