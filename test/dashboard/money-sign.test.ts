import { Decimal } from 'decimal.js'
import fc from 'fast-check'
import t from 'tap'
import { DECIMAL_JS } from '../../src/dashboard/client/decimal.js'
import { FORMAT_JS } from '../../src/dashboard/client/format.js'

// The page writes an amount below $0.0001 as "< $0.0001" rather than a rounded $0.0000. A credit that
// small (-0.0000001) was written the same way: its minus sign was lost and it read as a tiny charge.
// The page's own script text runs here (Node has BigInt), as in dashboard.test.ts.

// eslint-disable-next-line no-new-func -- runs the page's own script text
const Fmt = new Function(`${DECIMAL_JS}; ${FORMAT_JS}; return Fmt`)() as { money(dec: string, currency: string): string }

t.test('a tiny credit keeps its minus sign; a tiny charge reads as before', async (t) => {
  t.equal(Fmt.money('-0.0000001', 'USD'), '> -$0.0001')
  t.equal(Fmt.money('-0.00004999', 'USD'), '> -$0.0001')
  t.equal(Fmt.money('0.0000001', 'USD'), '< $0.0001')
  t.equal(Fmt.money('-0.00005', 'USD'), '-$0.0001', 'rounded half away from zero, as before')
  t.equal(Fmt.money('-1234.5', 'USD'), '-$1,234.50')
  t.equal(Fmt.money('-0', 'USD'), '$0.00')
  t.equal(Fmt.money('-0.0000001', 'EUR'), '> -EUR 0.0001')
})

t.test('any non-zero amount is written with a minus sign exactly when it is negative', async (t) => {
  const amount = fc
    .tuple(fc.bigInt({ min: 1n, max: 10n ** 18n }), fc.integer({ min: 0, max: 18 }), fc.boolean())
    .map(([units, scale, neg]) => new Decimal(`${neg ? '-' : ''}${units}`).div(new Decimal(10).pow(scale)).toFixed())
  fc.assert(
    fc.property(amount, (a) => {
      t.equal(Fmt.money(a, 'USD').includes('-'), a.startsWith('-'), a)
    }),
    { numRuns: 300, examples: [['-0.0000001'], ['-0.00000000000000001']] },
  )
})
