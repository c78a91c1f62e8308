import { createHash } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import type { Db, DbClient } from './client.js'

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url))

// Arbitrary constant shared by every tokenledger instance: the advisory lock that serialises
// migrations when several instances start at once.
const MIGRATION_LOCK_KEY = 7_261_532_001

/** Applied migrations whose files changed since: add a new migration instead of editing an old one. */
export class MigrationEditedError extends Error {
  constructor(readonly tags: string[]) {
    super(`migration${tags.length === 1 ? '' : 's'} ${tags.join(', ')} changed after being applied (hash mismatch); add a new migration instead of editing an applied one`)
  }
}

/**
 * Applied migrations this build does not have: the database was migrated by a newer tokenledger (a
 * deploy rolled back, an instance left behind). Running on would write to a schema this code does not
 * know — columns it leaves empty, triggers it does not expect — so the migrator stops instead.
 */
export class MigrationUnknownError extends Error {
  constructor(readonly tags: string[]) {
    super(
      `the database has migration${tags.length === 1 ? '' : 's'} ${tags.join(', ')} that this build does not have (it was migrated by a ` +
        'newer tokenledger); run that version or a later one',
    )
  }
}

/**
 * The journal (meta/_journal.json, the order migrations apply in) and the migration files disagree: a
 * file it does not list was never applied, silently (a hand-written migration added without its entry),
 * and a tag listed twice failed its second run on the migrations table's key.
 */
export class MigrationJournalError extends Error {
  constructor(unlisted: string[], repeated: string[]) {
    super(
      [
        unlisted.length > 0 ? `meta/_journal.json does not list ${unlisted.map((t) => `${t}.sql`).join(', ')} (never applied)` : '',
        repeated.length > 0 ? `meta/_journal.json lists ${repeated.join(', ')} more than once` : '',
      ]
        .filter(Boolean)
        .join('; ') + ': every migration file is listed exactly once',
    )
  }
}

interface Migration {
  tag: string
  hash: string
  statements: string[]
}

export async function loadMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const journal = JSON.parse(await readFile(`${dir}meta/_journal.json`, 'utf8')) as {
    entries: { tag: string }[]
  }
  const tags = journal.entries.map((e) => e.tag)
  const listed = new Set(tags)
  const unlisted = (await readdir(dir))
    .filter((f) => f.endsWith('.sql'))
    .map((f) => f.slice(0, -'.sql'.length))
    .filter((tag) => !listed.has(tag))
    .sort()
  const repeated = [...new Set(tags.filter((tag, i) => tags.indexOf(tag) !== i))]
  if (unlisted.length > 0 || repeated.length > 0) throw new MigrationJournalError(unlisted, repeated)
  return Promise.all(
    journal.entries.map(async ({ tag }) => {
      const text = await readFile(`${dir}${tag}.sql`, 'utf8')
      return {
        tag,
        hash: createHash('sha256').update(text).digest('hex'),
        statements: text
          .split('--> statement-breakpoint')
          .map((s) => s.trim())
          .filter(Boolean),
      }
    }),
  )
}

async function applyPending(db: Db, migrations: Migration[]): Promise<string[]> {
  await db.query(
    'create table if not exists tokenledger_migrations (tag text primary key, hash text not null, applied_at timestamptz not null default now())',
  )
  const applied = new Map(
    (await db.query<{ tag: string; hash: string }>('select tag, hash from tokenledger_migrations')).map((r) => [r.tag, r.hash]),
  )
  // An applied migration is history: editing its file would leave databases migrated before and after
  // the edit silently different, so a changed file stops the migrator instead of being skipped.
  const edited = migrations.filter((m) => applied.has(m.tag) && applied.get(m.tag) !== m.hash).map((m) => m.tag)
  if (edited.length > 0) throw new MigrationEditedError(edited)
  const known = new Set(migrations.map((m) => m.tag))
  const unknown = [...applied.keys()].filter((tag) => !known.has(tag)).sort()
  if (unknown.length > 0) throw new MigrationUnknownError(unknown)
  const done: string[] = []
  for (const m of migrations) {
    if (applied.has(m.tag)) continue
    await db.transaction(async (tx) => {
      for (const statement of m.statements) await tx.query(statement)
      await tx.query('insert into tokenledger_migrations (tag, hash) values ($1, $2)', [m.tag, m.hash])
    })
    done.push(m.tag)
  }
  return done
}

/**
 * Applies pending migrations. On PostgreSQL it holds a session advisory lock on a dedicated
 * connection, so instances starting together migrate one after another; PGlite is single-process
 * (guarded by the data-dir lock file), so it needs none.
 */
export async function migrate(client: DbClient, dir = MIGRATIONS_DIR): Promise<string[]> {
  const migrations = await loadMigrations(dir)
  if (client.engine === 'pglite') return applyPending(client, migrations)
  return client.dedicated(async (conn) => {
    // No statement timeout on this connection (its own, closed afterwards): a migration may rewrite or
    // backfill a whole table (0015 builds the hourly rollup from every bucket, minutes at 10M), and an
    // instance waits here for another's migration. Under STATEMENT_TIMEOUT_MS such an upgrade failed
    // and the server stayed unready, failing again at every retry.
    await conn.query('set statement_timeout = 0')
    await conn.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY])
    try {
      return await applyPending(conn, migrations)
    } finally {
      await conn.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY])
    }
  })
}

export async function isMigrated(db: Db): Promise<boolean> {
  const migrations = await loadMigrations()
  const rows = await db.query<{ n: number }>(
    'select count(*)::int8 as n from tokenledger_migrations where tag = any($1::text[])',
    [migrations.map((m) => m.tag)],
  )
  return rows[0]?.n === migrations.length
}
