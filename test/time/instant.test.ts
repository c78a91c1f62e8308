import fc from 'fast-check'
import t from 'tap'
import { MAX_UNIX_SECONDS, parseInstant } from '../../src/time/instant.js'
import { INSTANT_CASES } from '../factories/instants.js'

t.test('every row of the shared table gets the contract’s verdict', async (t) => {
  for (const c of INSTANT_CASES) {
    const r = parseInstant(c.input)
    if (c.ms === null) t.notOk(r.ok, `${c.why}: ${JSON.stringify(c.input)} is refused`)
    else t.same(r, { ok: true, ms: c.ms }, `${c.why}: ${JSON.stringify(c.input)}`)
  }
})

t.test('the edges of the range: 0 and 9999-12-31T23:59:59Z are accepted, one second more is not', async (t) => {
  t.same(parseInstant(0), { ok: true, ms: 0 })
  t.same(parseInstant('1970-01-01T00:00:00Z'), { ok: true, ms: 0 })
  t.same(parseInstant(MAX_UNIX_SECONDS), { ok: true, ms: MAX_UNIX_SECONDS * 1000 })
  t.same(parseInstant('9999-12-31T23:59:59Z'), { ok: true, ms: MAX_UNIX_SECONDS * 1000 })
  t.notOk(parseInstant(MAX_UNIX_SECONDS + 1).ok)
  t.notOk(parseInstant('1970-01-01T00:30:00+01:00').ok, 'an offset that moves the instant before 1970')
  t.notOk(parseInstant('9999-12-31T23:59:59-01:00').ok, 'an offset that moves the instant past 9999')
})

t.test('the refusal names what is accepted and what was sent', async (t) => {
  const r = parseInstant('2025-02-30T00:00:00Z')
  t.notOk(r.ok)
  if (!r.ok) t.match(r.message, /2025-02-30T00:00:00Z.*not a calendar date/)
  const long = parseInstant('x'.repeat(10_000))
  if (!long.ok) t.ok(long.message.length < 200, 'a huge input is not echoed whole')
})

t.test('property: any real instant, written as RFC 3339 in any offset or as unix seconds, round-trips', async () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: MAX_UNIX_SECONDS }),
      fc.integer({ min: -23 * 60 - 59, max: 23 * 60 + 59 }),
      (seconds, offsetMin) => {
        const ms = seconds * 1000
        const local = new Date(ms + offsetMin * 60_000)
        const y = local.getUTCFullYear()
        if (y < 1970 || y > 9999) return true
        const pad = (n: number, w = 2) => String(Math.abs(n)).padStart(w, '0')
        const off = `${offsetMin < 0 ? '-' : '+'}${pad(Math.trunc(Math.abs(offsetMin) / 60))}:${pad(Math.abs(offsetMin) % 60)}`
        const text = `${pad(y, 4)}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())}T${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}${off}`
        const a = parseInstant(text)
        const b = parseInstant(String(seconds))
        return a.ok && a.ms === ms && b.ok && b.ms === ms
      },
    ),
  )
})

t.test('property: a day past the end of its month is always refused', async () => {
  fc.assert(
    fc.property(fc.integer({ min: 1970, max: 9999 }), fc.integer({ min: 1, max: 12 }), (y, m) => {
      const days = new Date(Date.UTC(y, m, 0)).getUTCDate()
      const text = `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${days + 1}T00:00:00Z`
      return days + 1 > 31 || !parseInstant(text).ok
    }),
  )
})
