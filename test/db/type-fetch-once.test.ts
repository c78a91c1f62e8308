import { connect, createServer, type Socket } from 'node:net'
import t from 'tap'
import { createPostgresDb, type Db } from '../../src/db/client.js'
import { ownPostgresDatabase } from '../helpers.js'

// postgres.js (3.4.9) fetched the array types as the first statement of every connection it opened and
// dropped that promise: a connection lost during the fetch (a database restart, a network cut while the
// pool reconnects) was an unhandled rejection, which ends the server (close-with-grace) — seen as
// `read ECONNRESET` in test/operations/database-outage.test.ts on a loaded CI machine. The client now
// fetches them once: later connections, and dedicated clients, start with the types already known.
const base = process.env.TEST_DATABASE_URL

/** A TCP proxy to PostgreSQL that resets any connection sending the array-type fetch while armed. */
async function typeFetchCutter(target: URL) {
  let armed = false
  let cut = 0
  const sockets = new Set<Socket>()
  const server = createServer((client) => {
    const upstream = connect(Number(target.port || 5432), target.hostname)
    // Either side closing closes the other (a terminated backend may reset rather than end its socket).
    for (const [one, other] of [[client, upstream], [upstream, client]] as const) {
      sockets.add(one)
      one.on('error', () => one.destroy())
      one.on('close', () => {
        sockets.delete(one)
        other.destroy()
      })
    }
    client.on('data', (chunk: Buffer) => {
      if (armed && chunk.includes('typcategory')) {
        cut++
        client.resetAndDestroy()
      } else upstream.write(chunk)
    })
    upstream.pipe(client)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    port: (server.address() as { port: number }).port,
    arm: () => (armed = true),
    disarm: () => (armed = false),
    get cut() {
      return cut
    },
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>((r) => server.close(() => r()))
    },
  }
}

void t.test('array types are fetched once: a new connection cut where the fetch used to run does not crash', { skip: base ? false : 'needs TEST_DATABASE_URL' }, async (t) => {
  const { name, url, admin, through } = await ownPostgresDatabase(t, 'types', { empty: true })
  const proxy = await typeFetchCutter(url)
  t.teardown(() => proxy.close())
  const viaProxy = through(proxy.port)
  const db = createPostgresDb({ url: viaProxy.toString(), poolSize: 1 })
  t.teardown(() => db.close())

  const arrays = async (d: Db) =>
    (await d.query<{ a: string[]; n: number[] }>('select $1::text[] as a, $2::int8[] as n', [['x', 'y'], [1, 2]]))[0]
  t.same(await arrays(db), { a: ['x', 'y'], n: [1, 2] }, 'the first connection fetched the types')

  proxy.arm()
  // The pool's connection ends; the next statement opens a new one.
  await admin.query(`select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()`, [name])
  let again: Awaited<ReturnType<typeof arrays>> | undefined
  for (let i = 0; i < 20 && !again; i++) again = await arrays(db).catch(() => undefined)
  t.same(again, { a: ['x', 'y'], n: [1, 2] }, 'a new pooled connection reads and sends arrays without fetching the types')
  t.same(await db.dedicated(arrays), { a: ['x', 'y'], n: [1, 2] }, 'so does a dedicated client')
  t.equal(proxy.cut, 0, 'no connection sent the type fetch again')
})

void t.test('the first fetch of the array types cut: that statement fails like any other, the next one fetches them', { skip: base ? false : 'needs TEST_DATABASE_URL' }, async (t) => {
  const { url, through } = await ownPostgresDatabase(t, 'types-first', { empty: true })
  const proxy = await typeFetchCutter(url)
  t.teardown(() => proxy.close())
  proxy.arm()
  // Before: postgres.js ran the fetch itself as the new connection's first statement and dropped its
  // promise, so this cut was an unhandled rejection (tap fails the file on one; a server exits).
  const db = createPostgresDb({ url: through(proxy.port).toString(), poolSize: 1 })
  t.teardown(() => db.close())
  const arrays = async (d: Db) =>
    (await d.query<{ a: string[]; n: number[] }>('select $1::text[] as a, $2::int8[] as n', [['x', 'y'], [1, 2]]))[0]
  await t.rejects(arrays(db), 'the statement whose connection was cut while fetching the types fails, handled')
  await t.rejects(db.dedicated(arrays), 'so does a dedicated client that needs them')
  t.ok(proxy.cut >= 2, `the fetch was cut (${proxy.cut} times)`)
  proxy.disarm()
  t.same(await arrays(db), { a: ['x', 'y'], n: [1, 2] }, 'the next statement fetches the types and reads arrays')
  t.same(await db.dedicated(arrays), { a: ['x', 'y'], n: [1, 2] }, 'and a dedicated client has them')
})
