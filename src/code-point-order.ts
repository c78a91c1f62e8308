/**
 * Compares two strings by Unicode code point: the order the contract names ("code-point order") and the
 * database's lists under `COLLATE "C"` (UTF-8 bytes). JavaScript's `<` compares UTF-16 code units, which
 * is the same for every character up to U+FFFF but puts a character above it (a surrogate pair,
 * U+D800–DFFF) before U+E000–FFFF: `"😀" < "！"`, where the code points say the opposite.
 */
export function compareCodePoints(a: string, b: string): number {
  if (a === b) return 0
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i)
    const y = b.charCodeAt(i)
    if (x !== y) return rank(x) - rank(y)
  }
  return a.length - b.length
}

/** A code unit's place in code-point order: surrogates (only ever halves of code points above U+FFFF) after the rest. */
function rank(unit: number): number {
  return unit >= 0xd800 && unit <= 0xdfff ? unit + 0x10000 : unit
}
