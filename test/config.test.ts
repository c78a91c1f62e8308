import t from 'tap'
import { loadConfig } from '../src/config.js'

const PG = { DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/x' }

t.test('EXPORT_CONCURRENCY defaults to half the pool, at least one', async (t) => {
  t.equal(loadConfig({ ...PG }).EXPORT_CONCURRENCY, 5, 'DB_POOL_SIZE 10 → 5')
  t.equal(loadConfig({ ...PG, DB_POOL_SIZE: '3' }).EXPORT_CONCURRENCY, 1)
  t.equal(loadConfig({ ...PG, DB_POOL_SIZE: '20', EXPORT_CONCURRENCY: '12' }).EXPORT_CONCURRENCY, 12, 'a set value is kept')
})

t.test('streamed exports must leave a connection for every other request (PostgreSQL)', async (t) => {
  t.throws(() => loadConfig({ ...PG, DB_POOL_SIZE: '4', EXPORT_CONCURRENCY: '4' }), /EXPORT_CONCURRENCY: must be less than DB_POOL_SIZE/)
  t.throws(() => loadConfig({ ...PG, DB_POOL_SIZE: '4', EXPORT_CONCURRENCY: '9' }), /EXPORT_CONCURRENCY: must be less than DB_POOL_SIZE/)
  t.throws(() => loadConfig({ ...PG, DB_POOL_SIZE: '1' }), /with DB_POOL_SIZE=1 there is none to spare/, 'a pool of one has nothing to spare')
  t.throws(() => loadConfig({ ...PG, EXPORT_CONCURRENCY: '0' }), /EXPORT_CONCURRENCY/)
  // PGlite has no pool: one connection, which an export holds only for its statement.
  t.equal(loadConfig({ DB_POOL_SIZE: '1' }).EXPORT_CONCURRENCY, 1)
})
