// The token-class table lives beside the columns it describes (src/db/token-columns.ts), so the db layer
// never imports pricing; pricing's importers keep this path.
export * from '../db/token-columns.js'
