import t from 'tap'
import { eachEngine } from '../helpers.js'
import { buildWith, createConnection, getState, ledgerTotals, OPENAI_KEY, startStub, tenant, waitForRun } from './support/harness.js'

/**
 * `POST /v1/connections/{id}/sync` with `{"from": …}` re-pulls every endpoint from that instant: after
 * `DELETE /v1/usage/buckets` of a range older than `lag_hours`, a plain run never reaches it again (its window
 * starts at synced_until − lag_hours), and before this the only way back was to re-create the connection.
 */
const HOUR = 3_600_000

void t.test('a run asked to re-pull from an instant stores the range again, once, without moving synced_until back', (t) =>
  eachEngine(t, async (t, engine) => {
    const stub = await startStub(t, 12)
    const app = await buildWith(t, engine)
    const { tenantId, headers } = await tenant(app)
    const startDate = stub.opts.dataStart - 3 * HOUR
    const conn = await createConnection(app, headers, {
      name: 'repull', provider: 'openai', admin_key: OPENAI_KEY, account_id: 'org-1', base_url: stub.url,
      start_date: new Date(startDate).toISOString(), lag_hours: 0, endpoints: ['completions'],
    })
    const sync = (payload?: unknown) =>
      app.inject({ method: 'POST', url: `/v1/connections/${conn.id}/sync`, headers: { ...headers, ...(payload === undefined ? {} : { 'content-type': 'application/json' }) }, ...(payload === undefined ? {} : { payload: JSON.stringify(payload) }) })
    const run = async (payload?: unknown) => {
      const res = await sync(payload)
      t.equal(res.statusCode, 202, res.body.slice(0, 300))
      return waitForRun(app, headers, conn.id)
    }
    const input = async () => (await ledgerTotals(app.testDb, tenantId)).buckets.find((b) => b.usage_type === 'completions')?.input ?? '0'
    const want = String(stub.expected().completions.input)

    const first = await run()
    t.equal(first.last_run?.status, 'succeeded', first.last_run?.error ?? '')
    t.equal(await input(), want, 'the first run stored everything')

    const del = await app.inject({ method: 'DELETE', url: `/v1/usage/buckets?start_time=${new Date(startDate).toISOString()}&end_time=${new Date(stub.opts.dataEnd + HOUR).toISOString()}&account_id=org-1`, headers })
    t.equal(del.statusCode, 200, del.body.slice(0, 300))
    t.equal(await input(), '0', 'deleted')

    const plain = await run()
    t.equal(plain.last_run?.status, 'succeeded')
    t.equal(await input(), '0', 'a plain run (lag_hours 0) does not reach the deleted range')

    const mark = stub.requests.length
    const repulled = await run({ from: new Date(startDate - 48 * HOUR).toISOString() })
    t.equal(repulled.last_run?.status, 'succeeded', repulled.last_run?.error ?? '')
    t.equal(await input(), want, 'the re-pull stored the range again, exactly')
    t.ok(Date.parse(repulled.synced_until.completions!) >= Date.parse(plain.synced_until.completions!), 'synced_until did not move back',
      { before: plain.synced_until.completions, after: repulled.synced_until.completions })
    const starts = stub.requests.slice(mark).filter((r) => r.path === '/v1/organization/usage/completions').map((r) => Number(r.query.start_time) * 1000)
    t.equal(Math.min(...starts), startDate, 'a from before start_date starts at start_date')

    t.equal((await run({ from: new Date(stub.opts.dataStart).toISOString().slice(0, 10) })).last_run?.status, 'succeeded', 'a YYYY-MM-DD from')
    t.equal(await input(), want, 'pulled twice, stored once')

    const before = await getState(app, headers, conn.id)
    for (const [payload, path] of [
      [{ from: new Date(Date.now() + 2 * HOUR).toISOString() }, 'body.from'],
      [{ from: 'last tuesday' }, 'body.from'],
      [{ from: '2026-02-30' }, 'body.from'],
      [{ form: '2026-01-01' }, 'body.form'],
    ] as const) {
      const res = await sync(payload)
      t.equal(res.statusCode, 400, `${JSON.stringify(payload)} → 400`)
      t.match(res.json(), { errors: [{ path }] }, `naming ${path}`)
    }
    t.same((await getState(app, headers, conn.id)).last_run, before.last_run, 'no run was started by a refused request')
  }),
)
