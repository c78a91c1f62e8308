import fc from 'fast-check'
import t from 'tap'
import { parseCsvBatch, parseCsvCounter, parseJsonCounter, parseTime, normaliseTier } from '../../src/ingest/values.js'

const MAX = 9007199254740991

t.test('CSV counters: integers with or without an all-zero fraction parse to themselves', async (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: MAX }), fc.constantFrom('', '.0', '.00', '.'), (n, frac) => {
      const r = parseCsvCounter(`${n}${frac}`)
      return r.ok && r.value === n
    }),
  )
  t.same(parseCsvCounter(''), { ok: true, value: null })
  t.same(parseCsvCounter('007'), { ok: true, value: 7 })
})

t.test('CSV counters: fractions, negatives, words and values past 2^53 − 1 are problems', async (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1e9 }), fc.integer({ min: 1, max: 9 }), (n, d) => !parseCsvCounter(`${n}.${d}`).ok),
  )
  fc.assert(fc.property(fc.integer({ min: 1, max: MAX }), (n) => !parseCsvCounter(`-${n}`).ok))
  fc.assert(
    fc.property(fc.string(), (s) => {
      const r = parseCsvCounter(s)
      // Whatever is accepted must be a safe integer written as digits.
      return !r.ok || (r.value === null ? s === '' : Number.isSafeInteger(r.value) && /^\d+(\.0*)?$/.test(s))
    }),
  )
  t.notOk(parseCsvCounter('9007199254740992').ok)
  t.notOk(parseCsvCounter('99999999999999999999').ok)
  t.ok(parseCsvCounter('9007199254740991').ok)
  t.match(parseCsvCounter('10.5'), { ok: false, message: /integer/ })
  t.match(parseCsvCounter('-3'), { ok: false, message: /≥ 0/ })
  t.match(parseCsvCounter('1'.repeat(5000)), { ok: false, message: /^must be ≤ 2\^53 − 1 \(got 1{40}…\)$/ }, 'a huge cell is not echoed whole')
})

t.test('CSV counters are the digits as written: surrounding space is a problem naming the cell, as a JSON string counter is', async (t) => {
  for (const cell of [' 12', '12 ', '\t12', ' 12.0', '\u00a012', ' ', '  '])
    t.match(parseCsvCounter(cell), { ok: false, message: /surrounding space/ }, JSON.stringify(cell))
  t.same(parseCsvCounter('12'), { ok: true, value: 12 })
  t.notOk(parseJsonCounter(' 12').ok)
})

t.test('JSON counters: only non-negative safe integers (or null) pass; strings never do', async (t) => {
  fc.assert(fc.property(fc.integer({ min: 0, max: MAX }), (n) => parseJsonCounter(n).ok))
  fc.assert(fc.property(fc.double({ noInteger: true }), (x) => !parseJsonCounter(x).ok))
  fc.assert(fc.property(fc.integer({ min: -MAX, max: -1 }), (n) => !parseJsonCounter(n).ok))
  t.notOk(parseJsonCounter('10').ok)
  t.notOk(parseJsonCounter(2 ** 53).ok)
  t.same(parseJsonCounter(null), { ok: true, value: null })
})

t.test('times: unix seconds and RFC 3339 agree', async (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 4_102_444_800 }), (s) => {
      const iso = new Date(s * 1000).toISOString()
      const a = parseTime(s)
      const b = parseTime(iso)
      const c = parseTime(String(s))
      return a.ok && b.ok && c.ok && a.value === s * 1000 && b.value === a.value && c.value === a.value
    }),
  )
  t.same(parseTime('2025-10-05T02:00:00+02:00'), { ok: true, value: 1759622400000 })
  t.notOk(parseTime('2025-10-05').ok, 'a date alone is not RFC 3339')
  t.notOk(parseTime('yesterday').ok)
  t.notOk(parseTime(null).ok)
  t.notOk(parseTime(-1).ok)
})

t.test('CSV batch accepts exactly TRUE/FALSE/true/false/empty', async (t) => {
  t.same(['TRUE', 'true', 'FALSE', 'false', ''].map((s) => parseCsvBatch(s)), [
    { ok: true, value: true },
    { ok: true, value: true },
    { ok: true, value: false },
    { ok: true, value: false },
    { ok: true, value: null },
  ])
  for (const bad of ['1', 'yes', 'True', 'T']) t.notOk(parseCsvBatch(bad).ok, bad)
})

t.test('tiers: null/standard/auto are default; batch tier sets batch', async (t) => {
  t.same(normaliseTier(null, null), { serviceTier: 'default', batch: null })
  t.same(normaliseTier('standard', false), { serviceTier: 'default', batch: false })
  t.same(normaliseTier('auto', null), { serviceTier: 'default', batch: null })
  t.same(normaliseTier('batch', null), { serviceTier: 'default', batch: true })
  t.same(normaliseTier('flex', true), { serviceTier: 'flex', batch: true })
})
