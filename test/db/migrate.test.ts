import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { createPgliteDb, createPostgresDb } from '../../src/db/client.js'
import { isMigrated, loadMigrations, migrate, MigrationEditedError, MigrationJournalError, MIGRATIONS_DIR, MigrationUnknownError } from '../../src/db/migrate.js'
import { eachEngine, freshDb } from '../helpers.js'
import { withDatabase } from '../setup/templates.js'

const base = process.env.TEST_DATABASE_URL

t.test('several instances migrating one PostgreSQL database at once apply each migration once', { skip: base ? false : 'needs TEST_DATABASE_URL' }, async (t) => {
  const name = `${new URL(base!).pathname.slice(1)}_mig_${process.pid}`
  const admin = createPostgresDb({ url: base!, poolSize: 1 })
  await admin.query(`create database "${name}"`)
  t.teardown(async () => {
    await admin.query(`drop database if exists "${name}" with (force)`)
    await admin.close()
  })
  const clients = Array.from({ length: 4 }, () => createPostgresDb({ url: withDatabase(base!, name), poolSize: 2 }))
  t.teardown(() => Promise.all(clients.map((c) => c.close())))
  const applied = await Promise.all(clients.map((c) => migrate(c)))
  const all = (await loadMigrations()).map((m) => m.tag)
  t.same(applied.flat().sort(), all.sort(), 'every migration applied exactly once across the instances')
  t.ok(await isMigrated(clients[0]!))
})

t.test('migrating PGlite twice is a no-op the second time', async (t) => {
  const db = await createPgliteDb({ dataDir: 'memory://' })
  t.teardown(() => db.close())
  t.ok((await migrate(db)).length > 0)
  t.same(await migrate(db), [])
  t.ok(await isMigrated(db))
})

t.test('an applied migration whose file was edited afterwards stops the migrator', async (t) => {
  const dir = `${mkdtempSync(join(tmpdir(), 'tl-migrations-'))}/`
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  cpSync(MIGRATIONS_DIR, dir, { recursive: true })
  const db = await createPgliteDb({ dataDir: 'memory://' })
  t.teardown(() => db.close())
  await migrate(db, dir)
  const [first] = await loadMigrations(dir)
  writeFileSync(`${dir}${first!.tag}.sql`, `${readFileSync(`${dir}${first!.tag}.sql`, 'utf8')}\n-- edited\n`)
  await t.rejects(migrate(db, dir), new MigrationEditedError([first!.tag]), 'names the edited migration')
  t.same(await migrate(db), [], 'the unedited files still migrate as a no-op')
})

/** The shipped migrations plus one more (`tag`, `sql`), in a temporary directory. */
function withExtraMigration(t: Test, tag: string, sql: string): string {
  const dir = `${mkdtempSync(join(tmpdir(), 'tl-migrations-'))}/`
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  cpSync(MIGRATIONS_DIR, dir, { recursive: true })
  const journal = JSON.parse(readFileSync(`${dir}meta/_journal.json`, 'utf8')) as { entries: { tag: string }[] }
  journal.entries.push({ ...journal.entries.at(-1)!, tag })
  writeFileSync(`${dir}meta/_journal.json`, JSON.stringify(journal))
  writeFileSync(`${dir}${tag}.sql`, sql)
  return dir
}

// A deploy rolled back, or an instance left on the old version: the database has a migration this build
// lacks. The older code used to run on the newer schema as if migrated.
void t.test('a database migrated by a newer build stops an older build\'s migrator, naming the migration', (t) =>
  eachEngine(t, async (t, engine) => {
    const db = await freshDb(t, engine)
    const newer = withExtraMigration(t, '9999_newer', 'create table newer_table (tenant_id text not null);')
    t.same(await migrate(db, newer), ['9999_newer'], 'the newer build migrates')
    await t.rejects(migrate(db), new MigrationUnknownError(['9999_newer']), 'the shipped build refuses it')
    t.same(await migrate(db, newer), [], 'the newer build still starts (the lock was released)')
  }),
)

t.test('a migration file the journal does not list, or a tag it lists twice, stops the migrator before anything is applied', async (t) => {
  const db = await createPgliteDb({ dataDir: 'memory://' })
  t.teardown(() => db.close())
  const unlisted = `${mkdtempSync(join(tmpdir(), 'tl-migrations-'))}/`
  t.teardown(() => rmSync(unlisted, { recursive: true, force: true }))
  cpSync(MIGRATIONS_DIR, unlisted, { recursive: true })
  writeFileSync(`${unlisted}9999_handwritten.sql`, 'create table handwritten (tenant_id text not null);')
  await t.rejects(migrate(db, unlisted), new MigrationJournalError(['9999_handwritten'], []), 'names the unlisted file')
  const [first] = await loadMigrations()
  const twice = withExtraMigration(t, first!.tag, readFileSync(`${MIGRATIONS_DIR}${first!.tag}.sql`, 'utf8'))
  await t.rejects(migrate(db, twice), new MigrationJournalError([], [first!.tag]), 'names the repeated tag')
  t.same(await db.query(`select to_regclass('tokenledger_migrations') as t`), [{ t: null }], 'nothing was applied')
})

t.test('a migration longer than the statement timeout is applied', { skip: base ? false : 'needs TEST_DATABASE_URL' }, async (t) => {
  const name = `${new URL(base!).pathname.slice(1)}_migslow_${process.pid}`
  const admin = createPostgresDb({ url: base!, poolSize: 1 })
  await admin.query(`create database "${name}"`)
  const db = createPostgresDb({ url: withDatabase(base!, name), poolSize: 2, statementTimeoutMs: 300 })
  t.teardown(async () => {
    await db.close()
    await admin.query(`drop database if exists "${name}" with (force)`)
    await admin.close()
  })
  // The migrations as shipped, then one that runs for 0.6 s, as a backfill at 10M buckets runs for minutes.
  const dir = withExtraMigration(t, '9999_slow', 'select pg_sleep(0.6);')
  const applied = await migrate(db, dir)
  t.equal(applied.at(-1), '9999_slow', 'applied under a 300 ms statement timeout')
  t.same(await db.query('show statement_timeout'), [{ statement_timeout: '300ms' }], 'the pool keeps its timeout')
})
