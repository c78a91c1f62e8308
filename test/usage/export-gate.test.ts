import { once } from 'node:events'
import { connect, type AddressInfo, type Socket } from 'node:net'
import t, { type Test } from 'tap'
import type { DbClient } from '../../src/db/client.js'
import { bearer, build, eachEngine, otherSession, tenantWithKey, waitFor } from '../helpers.js'

// Slow readers of streamed reports used to take the whole pool. A report reads its statement through a
// cursor (PostgreSQL) whose connection stays taken while the client reads; each tenant may run
// TENANT_QUERY_CONCURRENCY of them, but four slow CSV readers in two tenants took a pool of four, and
// every other request — GraphQL, ingest, /readyz — answered 503 after DB_ACQUIRE_TIMEOUT_MS. Streamed
// reads now share EXPORT_CONCURRENCY slots server-wide: the next one waits, then gets 503.
//
// The readers hold connections only if the export outruns the socket buffers (~4 MB here) and the
// cursor's batches (2,000 rows): 11,520 rows of ~1.2 kB (a 256-character project id of four-byte
// characters), one-minute buckets so that each bucket's chunk of CSV is small.
const DAY = Date.parse('2026-03-05T00:00:00Z') / 1000
const PROJECTS = 8
const EXPORT = `/v1/organization/usage/completions?start_time=${DAY}&end_time=${DAY + 86_400}&bucket_width=1m&group_by=project_id`
const USAGE = '{ usage(from: "2026-03-05T00:00:00Z", to: "2026-03-06T00:00:00Z", window: DAY) { rows { inputTokens } } }'

function day() {
  const buckets = []
  for (let m = 0; m < 1440; m++)
    for (let p = 0; p < PROJECTS; p++)
      buckets.push({
        start_time: DAY + m * 60, end_time: DAY + m * 60 + 60, model: 'gpt-4o-mini', project_id: `${'😀'.repeat(250)}-${p}`,
        num_model_requests: 1, input_tokens: 1000 + m, output_tokens: 10,
      })
  return { buckets }
}

interface Reader {
  socket: Socket
  status: number
  head: string
  body: string
}

/** Asks for the export, reads its first bytes (the whole answer if it is a refusal), then stops reading. */
async function slowReader(t: Test, port: number, key: string): Promise<Reader> {
  const socket = connect(port, '127.0.0.1')
  t.teardown(() => socket.destroy())
  await once(socket, 'connect')
  socket.write(`GET ${EXPORT} HTTP/1.1\r\nHost: x\r\nAccept: text/csv\r\nAuthorization: Bearer ${key}\r\n\r\n`)
  let text = ''
  while (!text.includes('\r\n\r\n')) text += ((await once(socket, 'data')) as [Buffer])[0].toString('utf8')
  const [head = '', ...rest] = text.split('\r\n\r\n')
  const status = Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1])
  let body = rest.join('\r\n\r\n')
  if (status === 200) socket.pause()
  else {
    const length = Number(/content-length: (\d+)/i.exec(head)?.[1])
    while (Buffer.byteLength(body) < length) body += ((await once(socket, 'data')) as [Buffer])[0].toString('utf8')
  }
  return { socket, status, head, body }
}

/** PostgreSQL: sessions of the test database holding an export's cursor while its reader waits. */
async function observer(t: Test, db: DbClient) {
  // Its own connection: the app's pool may be taken, which is what is tested.
  const own = await otherSession(t, db)
  const held = async () =>
    Number((await own.query<{ n: number }>(
      // In a transaction, whatever its state: a cursor whose reader's socket buffers are still filling
      // is 'active' during each fetch and 'idle in transaction' between them.
      `select count(*)::int8 as n from pg_stat_activity where datname = current_database() and xact_start is not null and query like 'fetch % from usage_rows'`,
    ))[0]!.n)
  return {
    held,
    /** Waits (at most 20 s) until `n` cursors are held; the count last seen. */
    async until(n: number) {
      let seen = await held()
      for (let i = 0; i < 200 && seen !== n; i++) {
        await new Promise((r) => setTimeout(r, 100))
        seen = await held()
      }
      return seen
    },
  }
}

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine, { DB_POOL_SIZE: '4', EXPORT_CONCURRENCY: '2', DB_ACQUIRE_TIMEOUT_MS: '1000' })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as AddressInfo
  const a = await tenantWithKey(app)
  const b = await tenantWithKey(app)
  const c = await tenantWithKey(app)
  const payload = day()
  for (const { key } of [a, b]) {
    const res = await app.inject({ method: 'POST', url: '/v1/usage/buckets', headers: bearer(key), payload })
    t.equal(res.statusCode, 200, res.body.slice(0, 300))
  }
  const cursors = engine === 'postgres' ? await observer(t, app.testDb) : undefined
  const otherRequests = async (t: Test, label: string) => {
    const gql = await app.inject({ method: 'POST', url: '/graphql', headers: bearer(c.key), payload: { query: USAGE } })
    t.equal(gql.statusCode, 200, `${label}: a GraphQL usage query is answered`)
    t.equal(gql.json().errors, undefined, `${label}: without errors`)
    const events = await app.inject({
      method: 'POST', url: '/v1/usage/events', headers: bearer(c.key),
      payload: { events: [{ id: `e-${label}`, timestamp: '2026-03-05T00:00:00Z', model: 'gpt-4o-mini', input_tokens: 1 }] },
    })
    t.equal(events.statusCode, 200, `${label}: an ingest is answered`)
    // A few probes within 10 s: /readyz gives `select 1` one second, which PGlite, busy with the exports'
    // rows, can miss under load. A pool the readers had taken would answer 503 to every probe while they wait.
    let ready = 0
    const probe = async () => (ready = (await app.inject('/readyz')).statusCode) === 200
    await waitFor('/readyz to answer 200', probe, { timeoutMs: 10_000, everyMs: 250 }).catch(() => undefined)
    t.equal(ready, 200, `${label}: /readyz is 200`)
  }

  t.test('slow readers in two tenants hold at most EXPORT_CONCURRENCY connections; other requests are served', async (t) => {
    const first = [await slowReader(t, port, a.key), await slowReader(t, port, b.key)]
    t.same(first.map((r) => r.status), [200, 200], 'two exports start')
    if (cursors) t.equal(await cursors.until(2), 2, 'each holds its cursor while its reader waits')
    const more = [await slowReader(t, port, a.key), await slowReader(t, port, b.key)]
    if (engine === 'postgres') {
      for (const r of more) {
        t.equal(r.status, 503, 'the third and fourth wait, then are refused')
        t.match(r.head, /content-type: application\/problem\+json/i)
        t.match(r.head, /retry-after: \d+/i)
        t.match(r.status === 503 ? JSON.parse(r.body) : r.body, { status: 503, detail: /2 streamed reports already hold database connections/ })
      }
      t.equal(await cursors!.held(), 2, 'still two cursors: the pool keeps two connections for everything else')
    } else {
      // PGlite reads a report's rows in one statement and holds nothing while its client reads.
      t.same(more.map((r) => r.status), [200, 200], 'PGlite: every export is served')
    }
    await otherRequests(t, 'four slow readers')
    for (const r of [...first, ...more]) r.socket.destroy()
    if (cursors) t.equal(await cursors.until(0), 0, 'the readers that left hold nothing')
  })

  // TENANT_QUERY_CONCURRENCY (4) ≥ EXPORT_CONCURRENCY (2), as with any pool below 10: one tenant's slow
  // readers took both slots, and every other tenant's report was a 503 until they left.
  t.test('one tenant’s slow readers never take the last slot: another tenant’s export starts', async (t) => {
    const own = await slowReader(t, port, a.key)
    t.equal(own.status, 200, 'the tenant’s first export starts')
    if (cursors) t.equal(await cursors.until(1), 1, 'and holds its cursor')
    const second = await slowReader(t, port, a.key)
    const other = await slowReader(t, port, b.key)
    if (engine === 'postgres') {
      t.equal(second.status, 503, 'its second waits for a slot it may take, then is refused')
      t.match(second.status === 503 ? JSON.parse(second.body) : second.body, { status: 503, detail: /this tenant's 1 streamed reports .* the last of 2 is kept for other tenants/ })
      t.equal(other.status, 200, 'another tenant’s export takes the slot kept back')
      t.equal(await cursors!.until(2), 2, 'one cursor each')
    } else t.same([second.status, other.status], [200, 200], 'PGlite: every export is served')
    for (const r of [own, second, other]) r.socket.destroy()
    if (cursors) t.equal(await cursors.until(0), 0)
  })

  t.test('a slot comes back when its client goes away', async (t) => {
    const held = [await slowReader(t, port, a.key), await slowReader(t, port, b.key)]
    t.same(held.map((r) => r.status), [200, 200])
    if (cursors) t.equal(await cursors.until(2), 2, 'both slots taken')
    for (const r of held) r.socket.destroy()
    if (cursors) t.equal(await cursors.until(0), 0, 'the cursors of the readers that left are closed')
    // Both slots are free again (two more exports start), and no more than two were given back.
    const again = [await slowReader(t, port, a.key), await slowReader(t, port, b.key)]
    t.same(again.map((r) => r.status), [200, 200], 'two exports start again')
    if (cursors) {
      t.equal(await cursors.until(2), 2)
      t.equal((await slowReader(t, port, c.key)).status, 503, 'and a third still waits and is refused')
    }
    await otherRequests(t, 'after the aborts')
    for (const r of again) r.socket.destroy()
    if (cursors) t.equal(await cursors.until(0), 0)
  })
})
