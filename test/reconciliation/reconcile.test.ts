import t from 'tap'
import { reconcile, ratio } from '../../src/reconciliation/reconcile.js'
import type { ReconFact } from '../../src/reconciliation/recon-types.js'
import { ASTRAL_AND_HIGH_BMP, byCodePoint } from '../factories/code-point-order.js'

/** The comparison alone (no database): statuses in order, collapse, unmapped items, unit prices, totals, order. */

const W = new Date('2025-10-07T00:00:00Z')
const W2 = new Date('2025-10-08T00:00:00Z')
const fact = (side: ReconFact['side'], amount: string, over: Partial<ReconFact> = {}): ReconFact => ({
  side,
  windowStart: W,
  windowEnd: W2,
  provider: 'openai',
  accountId: 'org',
  projectId: null,
  apiKeyId: null,
  model: null,
  item: null,
  amount,
  unpricedTokens: 0,
  unpricedQuantity: false,
  priced: null,
  quantity: null,
  quantityUnit: null,
  ...over,
})
const item = (key: string, text: string, perUnit = false) => ({ key, text, priced: !key.startsWith('t|'), perUnit })

t.test('statuses, first that applies: BILLED_ONLY, COMPUTED_ONLY, UNPRICED, MATCH (within tolerance), MISMATCH', async (t) => {
  const { rows } = reconcile(
    [
      fact('billed', '1', { accountId: 'a' }),
      fact('computed', '2', { accountId: 'b' }),
      fact('computed', '1', { accountId: 'c', unpricedTokens: 10 }),
      fact('billed', '5', { accountId: 'c' }),
      fact('computed', '1', { accountId: 'd', unpricedQuantity: true }),
      fact('billed', '1', { accountId: 'd' }),
      fact('computed', '1.0000005', { accountId: 'e' }),
      fact('billed', '1', { accountId: 'e' }),
      fact('computed', '1.000002', { accountId: 'f' }),
      fact('billed', '1', { accountId: 'f' }),
    ],
    ['ACCOUNT'],
    '0.000001',
  )
  t.same(
    rows.map((r) => [r.accountId, r.status, r.computed, r.billed, r.difference]),
    [
      ['a', 'BILLED_ONLY', null, '1', null],
      ['b', 'COMPUTED_ONLY', '2', null, null],
      ['c', 'UNPRICED', '1', '5', '-4'],
      ['d', 'UNPRICED', '1', '1', '0'],
      ['e', 'MATCH', '1.0000005', '1', '0.0000005'],
      ['f', 'MISMATCH', '1.000002', '1', '0.000002'],
    ],
  )
})

t.test('a dimension billed rows lack is collapsed for their window (and only there)', async (t) => {
  const W3 = new Date('2025-10-09T00:00:00Z')
  const { rows, totals } = reconcile(
    [
      fact('computed', '0.3', { projectId: 'p1' }),
      fact('computed', '0.2', { projectId: 'p2' }),
      fact('billed', '0.5', { projectId: null }),
      fact('computed', '0.4', { projectId: 'p1', windowStart: W2, windowEnd: W3 }),
      fact('billed', '0.4', { projectId: 'p1', windowStart: W2, windowEnd: W3 }),
      fact('computed', '0.1', { projectId: 'p2', windowStart: W2, windowEnd: W3 }),
    ],
    ['PROJECT'],
    '0',
  )
  t.same(
    rows.map((r) => [r.windowStart.toISOString().slice(0, 10), r.projectId, r.status]),
    [
      ['2025-10-07', null, 'MATCH'],
      ['2025-10-08', 'p1', 'MATCH'],
      ['2025-10-08', 'p2', 'COMPUTED_ONLY'],
    ],
  )
  t.same(totals, { computed: '1', billed: '0.9', difference: '0.1', unpricedTokens: 0, complete: true })
})

t.test('line items: unmapped billed text kept as BILLED_ONLY; the billed text names a matched item; unit prices on MISMATCH only', async (t) => {
  const input = '["c","gpt-5","in_text","default",false,null]'
  const output = '["c","gpt-5","out_text","default",false,null]'
  const { rows } = reconcile(
    [
      fact('computed', '0.3', { model: 'gpt-5', item: item(input, 'gpt-5, input'), priced: '240000' }),
      fact('billed', '0.24', { model: 'gpt-5', item: item(input, 'gpt-5, input'), quantity: '240000', quantityUnit: 'tokens' }),
      fact('computed', '1', { model: 'gpt-5', item: item(output, 'gpt-5, output'), priced: '100000' }),
      fact('billed', '1', { model: 'gpt-5', item: item(output, 'gpt-5, output (billed text)'), quantity: '100000' }),
      fact('billed', '0.5', { model: null, item: item('t|gpt-4o, fine-tuning training', 'gpt-4o, fine-tuning training') }),
    ],
    ['LINE_ITEM'],
    '0.000001',
  )
  t.same(
    rows.map((r) => [r.model, r.lineItem, r.status, r.billedUnitPrice, r.cardUnitPrice]),
    [
      ['gpt-5', 'gpt-5, input', 'MISMATCH', '1', '1.25'],
      ['gpt-5', 'gpt-5, output (billed text)', 'MATCH', null, null],
      [null, 'gpt-4o, fine-tuning training', 'BILLED_ONLY', null, null],
    ],
  )
})

t.test('derived unit prices are rounded half-even to 12 places', async (t) => {
  t.equal(ratio('1', '3', 1), '0.333333333333')
  t.equal(ratio('0.0000000000005', '1', 1), '0')
  t.equal(ratio('0.0000000000015', '1', 1), '0.000000000002')
  t.equal(ratio('0.02', '80000', 1_000_000), '0.25')
})

// Rows were ordered by UTF-16 code unit: a project id above U+FFFF ("😀") came before one in U+E000–FFFF.
t.test('rows in code-point order of their keys, nulls last', async (t) => {
  const ids = [...ASTRAL_AND_HIGH_BMP].reverse()
  const { rows } = reconcile([...ids, null].map((projectId) => fact('computed', '1', { projectId })), ['PROJECT'], '0.000001')
  t.same(rows.map((r) => r.projectId), [...byCodePoint(ids), null])
})
