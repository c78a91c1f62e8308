import { loadConfig } from '../../config.js'
import { migrate } from '../../db/migrate.js'
import { openDb } from '../../plugins/db.js'
import { CliError } from '../errors.js'

export const MIGRATE_HELP = `Usage: tokenledger migrate

Applies pending database migrations directly (no server needed) and exits. Reads the server's
settings: DATABASE_URL (PostgreSQL), else DATA_DIR (embedded PGlite; not while a server uses it).

Options:
  -h, --help    this help`

export async function runMigrate(out: NodeJS.WriteStream) {
  let config
  try {
    config = loadConfig()
  } catch (e) {
    throw new CliError((e as Error).message)
  }
  const { client, release } = await openDb(config).catch((e: unknown) => {
    throw new CliError(`cannot open the database: ${(e as Error).message}`)
  })
  try {
    const applied = await migrate(client)
    out.write(applied.length ? `applied ${applied.length} migration(s): ${applied.join(', ')}\n` : 'the database is up to date\n')
  } catch (e) {
    throw new CliError(`migration failed: ${(e as Error).message}`)
  } finally {
    await client.close()
    release()
  }
}
