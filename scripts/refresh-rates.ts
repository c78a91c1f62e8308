// `npm run rates:refresh`: re-imports the installed @pydantic/genai-prices catalog (no network) into
// the `default` card as new rates only — the same import every start runs after migrations.
import { loadConfig } from '../src/config.js'
import { createPgliteDb, createPostgresDb, type DbClient } from '../src/db/client.js'
import { migrate } from '../src/db/migrate.js'
import { lockDataDir } from '../src/plugins/db.js'
import { ensureDefaultCard } from '../src/pricing/catalog/default-card.js'

const config = loadConfig()
let release = () => {}
let db: DbClient
if (config.DATABASE_URL) {
  db = createPostgresDb({ url: config.DATABASE_URL, poolSize: 1 })
} else {
  // Embedded PGlite is single-process: refuse while a server holds DATA_DIR (it imports on start anyway).
  if (!config.DATA_DIR.startsWith('memory://')) release = lockDataDir(config.DATA_DIR)
  db = await createPgliteDb({ dataDir: config.DATA_DIR })
}
try {
  await migrate(db)
  const result = await ensureDefaultCard(db)
  process.stdout.write(`default card: ${result.inserted} new rate(s) from @pydantic/genai-prices ${result.version}\n`)
  for (const overlap of result.skipped) process.stdout.write(`not imported (the card's rate wins): ${overlap}\n`)
} finally {
  await db.close()
  release()
}
