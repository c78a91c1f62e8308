import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { createPgliteDb, createPostgresDb, type DbClient, type Engine } from '../../src/db/client.js'
import { MIGRATIONS_DIR } from '../../src/db/migrate.js'
import { withDatabase } from './templates.js'

// For tests of a migration on a database that already holds data: an empty database of either engine,
// and a copy of migrations/ that stops before the migration under test (found by the end of its tag,
// since the lead renumbers migrations).

/** A copy of migrations/ as a build before the migration whose tag ends with `suffix` had it: journal and files stop there. */
export function migrationsBefore(t: Test, suffix: string): string {
  const dir = `${mkdtempSync(join(tmpdir(), 'tl-migrations-'))}/`
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  cpSync(MIGRATIONS_DIR, dir, { recursive: true })
  const journal = JSON.parse(readFileSync(`${dir}meta/_journal.json`, 'utf8')) as { entries: { tag: string }[] }
  const at = journal.entries.findIndex((e) => e.tag.endsWith(suffix))
  t.ok(at > 0, `migration *${suffix} is in the journal`)
  for (const { tag } of journal.entries.slice(at)) rmSync(`${dir}${tag}.sql`)
  journal.entries = journal.entries.slice(0, at)
  writeFileSync(`${dir}meta/_journal.json`, JSON.stringify(journal))
  return dir
}

/** A new, empty database (PGlite in memory, or one named after `label` on TEST_DATABASE_URL's server), dropped at teardown. */
export async function emptyDb(t: Test, engine: Engine, label: string): Promise<DbClient> {
  if (engine === 'pglite') {
    const db = await createPgliteDb({ dataDir: 'memory://' })
    t.teardown(() => db.close())
    return db
  }
  const base = process.env.TEST_DATABASE_URL!
  const name = `${new URL(base).pathname.slice(1)}_${label}_${process.pid}`
  const admin = createPostgresDb({ url: base, poolSize: 1 })
  await admin.query(`drop database if exists "${name}" with (force)`)
  await admin.query(`create database "${name}"`)
  const db = createPostgresDb({ url: withDatabase(base, name), poolSize: 2 })
  t.teardown(async () => {
    await db.close()
    await admin.query(`drop database if exists "${name}" with (force)`)
    await admin.close()
  })
  return db
}
