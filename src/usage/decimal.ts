// The normaliser lives in src/decimal/decimal-text.ts; this path stays for the usage layer's importers.
export { normalizeDecimal } from '../decimal/decimal-text.js'
