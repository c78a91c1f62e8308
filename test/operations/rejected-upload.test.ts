import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import Fastify from 'fastify'
import t, { type Test } from 'tap'
import app from '../../src/app.js'
import type { Db } from '../../src/db/client.js'
import { ingestBuckets, ingestCsvUpload } from '../../src/ingest/ingest-buckets.js'
import { readUsageCsv } from '../../src/ingest/openai-csv.js'
import { bearer, build, eachEngine, freshDb, isProblem, tenantWithKey, testConfig } from '../helpers.js'
import { withDatabase } from '../setup/templates.js'

// A row PostgreSQL refuses in the middle of staging (COPY on PostgreSQL, batched inserts on PGlite)
// used to leave the request unanswered, its transaction "idle in transaction (aborted)" and its
// spool file on disk: ten of them took the whole pool. Whatever makes PostgreSQL refuse a row, the
// request is answered (400 naming the row when it is the client's data), rolled back, its
// connection released and its spool file deleted.

const HEADER = 'start_time,end_time,model,input_tokens'
const goodCsv = (rows: number, from = 1766000000) =>
  [HEADER, ...Array.from({ length: rows }, (_, i) => `${from + i * 3600},${from + (i + 1) * 3600},m,${i + 1}`)].join('\n')

/** Idle-in-transaction sessions of one database, as PostgreSQL sees them. */
const idleInTransaction = async (db: Db, database: string) =>
  (
    await db.query<{ n: number }>(
      `select count(*)::int8 as n from pg_stat_activity where datname = $1 and state like 'idle in transaction%'`,
      [database],
    )
  )[0]!.n

/** The same database, except that a COPY carries a NUL byte inside the model `mark`: PostgreSQL refuses that line. */
function withRefusedCopy(db: Db, mark: string): Db {
  return {
    engine: db.engine,
    query: (q, p, o) => db.query(q, p, o),
    transaction: (fn) => db.transaction((tx) => fn(withRefusedCopy(tx, mark))),
    ...(db.copyIn
      ? {
          copyIn: async (table, columns) => {
            const copy = await db.copyIn!(table, columns)
            return { write: (text) => copy.write(text.replace(`\t${mark}\t`, `\t${mark}\u0000\t`)), end: () => copy.end() }
          },
        }
      : {}),
  }
}

/** Uploads spool under os.tmpdir(), which reads TMPDIR on every call: a private one can be counted. */
async function privateSpoolDir(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tl-spool-test-'))
  const previous = process.env.TMPDIR
  process.env.TMPDIR = dir
  t.teardown(async () => {
    if (previous === undefined) delete process.env.TMPDIR
    else process.env.TMPDIR = previous
    await rm(dir, { recursive: true, force: true })
  })
  return dir
}

void eachEngine(t, async (t, engine) => {
  const db = await freshDb(t, engine)
  const database = (await db.query<{ name: string }>('select current_database() as name'))[0]!.name
  await db.query(`insert into tenants (id, name) values ('acme', 'Acme')`)

  t.test('a row PostgreSQL refuses after thousands of good ones is a 400 naming its line; nothing is kept', async (t) => {
    // 12,000 rows cross COPY batches and insert chunks; the parsers are bypassed so that PostgreSQL
    // itself is what refuses the row, whatever the parsers learn to reject up front.
    for (const [line, path, mutate] of [
      [9001, '', (b: object) => ({ ...b, model: 'a\u0000b' })],
      [11002, 'start_time', (b: object) => ({ ...b, startMs: Date.parse('0000-01-01T00:00:00Z') })],
    ] as const) {
      const err: unknown = await ingestBuckets(db, 'acme', 'openai_csv', 'line', (emit) =>
        readUsageCsv(Readable.from([goodCsv(12_000)]), {}, (b, l) => emit(l, l === line ? (mutate(b) as typeof b) : b)),
      ).then(
        () => undefined,
        (e: unknown) => e,
      )
      t.match(err, { statusCode: 400, errors: [{ line, message: /PostgreSQL cannot store this row/ }] }, `line ${line} is named`)
      // Only COPY says which column; the insert path names the row.
      if (engine === 'postgres') t.match(err, { errors: [{ path }] })
      t.same(await db.query('select count(*)::int8 as n from usage_buckets'), [{ n: 0 }], 'nothing was written')
      t.same(await db.query('select 1 as one'), [{ one: 1 }], 'the database is usable afterwards')
      if (engine === 'postgres') t.equal(await idleInTransaction(db, database), 0, 'no transaction is left open')
    }
  })

  t.test('a COPY PostgreSQL refuses still answers and deletes the spool file', { skip: engine === 'pglite' && 'PGlite stages without COPY' }, async (t) => {
    const spool = await privateSpoolDir(t)
    const csv = [HEADER, ...Array.from({ length: 3000 }, (_, i) => `${1766000000 + i * 3600},${1766003600 + i * 3600},${i === 2500 ? 'bad' : 'm'},1`)].join('\n')
    const err: unknown = await ingestCsvUpload(withRefusedCopy(db, 'bad'), 'acme', Readable.from([csv]), {}, 1 << 30).then(
      () => undefined,
      (e: unknown) => e,
    )
    t.match(err, { statusCode: 400, errors: [{ line: 2502 }] })
    t.same(await readdir(spool), [], 'no spool file is left')
    t.equal(await idleInTransaction(db, database), 0)
  })

  t.test('20 refused uploads against a pool of 10, then normal requests are served', async (t) => {
    let server = engine === 'pglite' ? await build(t, engine) : undefined
    if (!server) {
      // The app opens its own pool of 10 on this test's database (build() would hand it a small one).
      const url = withDatabase(process.env.TEST_DATABASE_URL!, database)
      const s = Fastify({ logger: false })
      await s.register(app, { config: testConfig({ DATABASE_URL: url, DB_POOL_SIZE: '10' }) })
      await s.ready()
      t.teardown(() => s.close())
      server = Object.assign(s, { testDb: db })
    }
    const { key } = await tenantWithKey(server)
    const csv = (row: string) => ({ headers: { ...bearer(key), 'content-type': 'text/csv' }, payload: `${HEADER}\n${row}\n` })
    const bad = [
      csv('1766000000,1766003600,a\u0000b,5'),
      csv('0000-01-01T00:00:00Z,0000-01-01T01:00:00Z,a,5'),
      csv('999999996400,999999999999,a,5'),
      {
        // Overlapping rows send JSON through the staged path; the NUL reaches PostgreSQL there.
        headers: bearer(key),
        payload: {
          buckets: [
            { start_time: '2025-10-07T00:00:00Z', end_time: '2025-10-08T00:00:00Z', model: 'a\u0000b', input_tokens: 1 },
            { start_time: '2025-10-07T01:00:00Z', end_time: '2025-10-07T02:00:00Z', model: 'c', input_tokens: 1 },
          ],
        },
      },
    ]
    const spool = await privateSpoolDir(t)
    const started = Date.now()
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => server.inject({ method: 'POST', url: '/v1/usage/buckets', ...bad[i % bad.length]! })),
    )
    for (const [i, res] of answers.entries()) {
      t.ok(res.statusCode >= 400 && res.statusCode < 500 && isProblem(res), `upload ${i} is answered with a 4xx problem (${res.statusCode})`)
    }
    t.ok(Date.now() - started < 30_000, 'all answered promptly')

    const good = await server.inject({ method: 'POST', url: '/v1/usage/buckets', ...csv('1766000000,1766003600,m,5') })
    t.equal(good.statusCode, 200, 'a normal upload is served afterwards')
    t.same(await readdir(spool), [], 'no spool file is left')
    const read = await server.inject({ url: '/v1/organization/usage/completions?start_time=1765929600', headers: bearer(key) })
    t.equal(read.statusCode, 200, 'and a read')
    if (engine === 'postgres') t.equal(await idleInTransaction(db, database), 0, 'no connection is left idle in transaction')
    else t.test('pg_stat_activity', { skip: 'PostgreSQL only: PGlite has no pool or sessions' }, () => {})
  })
})
