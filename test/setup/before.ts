// Runs once before the suite (tap's `before`): builds the migrated templates every test file clones.
import { ensurePgliteTemplate, ensurePostgresTemplate } from './templates.js'

await ensurePgliteTemplate()
if (process.env.TEST_DATABASE_URL) await ensurePostgresTemplate(process.env.TEST_DATABASE_URL)
