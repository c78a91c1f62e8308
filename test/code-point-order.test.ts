import t from 'tap'
import { compareCodePoints } from '../src/code-point-order.js'
import { ASTRAL_AND_HIGH_BMP, byCodePoint } from './factories/code-point-order.js'

// JavaScript's `<` is UTF-16 code unit order: it put a character above U+FFFF before U+E000–FFFF. The lists
// the contract orders "in code-point order" (rate lists, event attributes, reconciliation rows) sorted by it.

t.test('the sample is one UTF-16 code units order otherwise', async (t) => {
  t.notSame([...ASTRAL_AND_HIGH_BMP].sort(), byCodePoint(ASTRAL_AND_HIGH_BMP))
  t.same([...ASTRAL_AND_HIGH_BMP].sort(compareCodePoints), byCodePoint(ASTRAL_AND_HIGH_BMP))
})

t.test('agrees with the oracle on random strings of BMP, high-BMP and astral characters', async (t) => {
  const alphabet = ['a', 'b', 'é', '\uD7FF', '\uE000', '！', '\uFFFF', '😀', '𐀀', '\u{10FFFF}']
  let seed = 42
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
  const strings = Array.from({ length: 400 }, () => Array.from({ length: Math.floor(next() * 5) }, () => alphabet[Math.floor(next() * alphabet.length)]).join(''))
  t.same([...strings].sort(compareCodePoints), byCodePoint(strings))
  for (const s of strings.slice(0, 50)) t.equal(compareCodePoints(s, s), 0)
  t.ok(compareCodePoints('a', 'ab') < 0 && compareCodePoints('ab', 'a') > 0, 'a prefix first')
})
