import t from 'tap'
import { eachEngine } from '../helpers.js'
import { buildWith, createConnection, OPENAI_KEY, startStub, syncAndWait, tenant } from './support/harness.js'

// PATCH kept the sealed admin key when it moved a connection to another host, and the next sync sent the
// key there: anyone who may PATCH (an `ingest` key) could have the provider admin key — which the API
// never returns — delivered to a host of their own. A new base_url now needs the key in the same request.

const ROTATED = 'sk-admin-ROTATED-key-for-the-new-host-4321'

void eachEngine(t, async (t, engine) => {
  const app = await buildWith(t, engine)
  const { headers } = await tenant(app)
  const own = await startStub(t, 3)
  const attacker = await startStub(t, 3)
  const conn = await createConnection(app, headers, { name: 'org', provider: 'openai', admin_key: OPENAI_KEY, account_id: 'org-1', base_url: own.url, start_date: new Date(own.opts.dataStart).toISOString(), endpoints: ['completions'] })
  const patch = (payload: Record<string, unknown>) => app.inject({ method: 'PATCH', url: `/v1/connections/${conn.id}`, headers, payload })

  t.test('another host without the key is refused, and nothing changes', async (t) => {
    const res = await patch({ base_url: attacker.url, interval_minutes: 5 })
    t.equal(res.statusCode, 400)
    t.match(res.json().errors, [{ path: 'body.base_url', message: /needs admin_key in the same request/ }])
    t.equal(res.json().errors.length, 1)
    const kept = (await app.inject({ method: 'GET', url: `/v1/connections/${conn.id}`, headers })).json()
    t.match(kept, { base_url: own.url, interval_minutes: 60 }, 'nothing written')
    await syncAndWait(app, headers, conn.id)
    t.equal(attacker.requests.length, 0, 'the other host heard nothing')
    t.ok(own.requests.length > 0, 'the sync went to the connection’s own host')
    t.ok(own.requests.every((r) => r.headers.authorization === `Bearer ${OPENAI_KEY}`))
  })

  t.test('the same base_url, or a new one with its key, is accepted', async (t) => {
    t.equal((await patch({ base_url: own.url, interval_minutes: 5 })).statusCode, 200, 'the stored base_url again needs no key')
    const moved = await patch({ base_url: attacker.url, admin_key: ROTATED })
    t.equal(moved.statusCode, 200, moved.body)
    t.match(moved.json(), { base_url: attacker.url, admin_key_last4: ROTATED.slice(-4) })
    await syncAndWait(app, headers, conn.id)
    t.ok(attacker.requests.length > 0)
    t.ok(attacker.requests.every((r) => r.headers.authorization === `Bearer ${ROTATED}`), 'the new host gets the key given for it, never the old one')
  })
})
