/**
 * The tests' oracle for "code-point order": each string as its list of code points, compared list by list.
 * Written apart from src/code-point-order.ts (which compares UTF-16 code units and moves surrogates).
 */
export function byCodePoint(values: readonly string[]): string[] {
  const points = (s: string) => Array.from(s, (c) => c.codePointAt(0)!)
  const compare = (a: number[], b: number[]) => {
    for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!
    return a.length - b.length
  }
  return values.map((v) => ({ v, p: points(v) })).sort((a, b) => compare(a.p, b.p)).map((x) => x.v)
}

/** Strings UTF-16 code units order otherwise: characters above U+FFFF against U+E000–FFFF (and the BMP). */
export const ASTRAL_AND_HIGH_BMP = ['😀', '！', '\uE000', '𐀀', 'z', '\uFFFD']
