import { createHash } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { readdir, rename, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createPgliteDb, createPostgresDb } from '../../src/db/client.js'
import { migrate, MIGRATIONS_DIR } from '../../src/db/migrate.js'
import { defaultCardRates, ensureDefaultCard } from '../../src/pricing/catalog/default-card.js'

/**
 * Identifies the current migrations and the default card the template is seeded with, so templates
 * are rebuilt exactly when either changes (templates live in the shared temp dir / server, and a
 * template seeded by older card code would make every test start by superseding its rates).
 */
export async function migrationsHash(): Promise<string> {
  const h = createHash('sha256')
  h.update(JSON.stringify(defaultCardRates()))
  for (const f of (await readdir(MIGRATIONS_DIR)).sort()) {
    if (f.endsWith('.sql')) h.update(f).update(readFileSync(join(MIGRATIONS_DIR, f)))
  }
  h.update(readFileSync(join(MIGRATIONS_DIR, 'meta/_journal.json')))
  return h.digest('hex').slice(0, 12)
}

export async function pgliteTemplatePath(): Promise<string> {
  return join(tmpdir(), `tokenledger-pglite-${await migrationsHash()}.tar.gz`)
}

/** A migrated PGlite data directory, dumped once and loaded by every test file (initdb is slow). */
export async function ensurePgliteTemplate(): Promise<string> {
  const path = await pgliteTemplatePath()
  if (existsSync(path)) return path
  const db = await createPgliteDb({ dataDir: 'memory://' })
  try {
    await migrate(db)
    // Seeded here once, so the app's start-up import finds nothing to add in each test file.
    await ensureDefaultCard(db)
    const blob = await db.dump()
    const partial = `${path}.${process.pid}.tmp`
    await writeFile(partial, Buffer.from(await blob.arrayBuffer()))
    await rename(partial, path)
  } finally {
    await db.close()
  }
  return path
}

export function postgresTemplateName(baseUrl: string, hash: string): string {
  return `${new URL(baseUrl).pathname.slice(1) || 'tokenledger'}_tpl_${hash}`
}

export function withDatabase(url: string, name: string): string {
  const u = new URL(url)
  u.pathname = `/${name}`
  return u.toString()
}

/** A migrated PostgreSQL template database; each test file clones it with CREATE DATABASE … TEMPLATE. */
export async function ensurePostgresTemplate(baseUrl: string): Promise<string> {
  const name = postgresTemplateName(baseUrl, await migrationsHash())
  const admin = createPostgresDb({ url: baseUrl, poolSize: 1 })
  try {
    // Several test runs (or workers) may start at once: build the template under a lock.
    await admin.query('select pg_advisory_lock(7261532002)')
    const exists = await admin.query('select 1 from pg_database where datname = $1', [name])
    if (exists.length === 0) {
      const building = `${name}_build`
      await admin.query(`drop database if exists "${building}"`)
      await admin.query(`create database "${building}"`)
      const tpl = createPostgresDb({ url: withDatabase(baseUrl, building), poolSize: 1 })
      try {
        await migrate(tpl)
        await ensureDefaultCard(tpl)
      } finally {
        await tpl.close()
      }
      await admin.query(`alter database "${building}" rename to "${name}"`)
    }
    await admin.query('select pg_advisory_unlock(7261532002)')
  } finally {
    await admin.close()
  }
  return name
}
