import t from 'tap'
import { TIME_JS } from '../../src/dashboard/client/time.js'
import { build, eachEngine } from '../helpers.js'
import { servedPage, skipWithoutChromium } from '../factories/chromium.js'

// The dashboard turned its range's dates into instants with Date.UTC(y, m, d), which reads years 0–99 as
// 1900–1999: a link with #from=0050-01-01 asked for 1950, and #from=0070-01-01 silently showed usage from
// 1970 while the page said "Showing 0070-01-01 to …". The page's calendar arithmetic now keeps every year
// exactly, and a range bound the API cannot take (before 1970, after 9999) is refused with a message, as
// any other bad control value is.

interface ZoneApi {
  midnight(date: string, tz: string): number
  dateOf(ms: number, tz: string): string
  addDays(date: string, n: number): string
  dateProblem(date: string): string
  label(iso: string, window: string, tz: string): string
}
// eslint-disable-next-line no-new-func -- runs the page's own script text, as dashboard.test.ts does
const Zone = new Function(`${TIME_JS}; return Zone`)() as ZoneApi

t.test('the page’s calendar arithmetic keeps years 0000–0099 exactly', async (t) => {
  t.equal(Zone.midnight('0050-01-01', 'UTC'), Date.parse('0050-01-01T00:00:00Z'), 'year 50, not 1950')
  t.equal(Zone.midnight('0000-03-01', 'UTC'), Date.parse('0000-03-01T00:00:00Z'))
  t.equal(Zone.addDays('0099-12-31', 1), '0100-01-01')
  t.equal(Zone.addDays('0050-03-01', -1), '0050-02-28')
  t.equal(Zone.addDays('0048-02-28', 1), '0048-02-29', 'the leap day of year 48')
  t.equal(Zone.dateOf(Date.parse('0050-06-01T12:00:00Z'), 'UTC'), '0050-06-01')
  t.equal(Zone.label('0070-05-01T13:00:00Z', 'MONTH', 'UTC'), '0070-05')
  t.equal(Zone.addDays('9999-12-31', 1), '10000-01-01')
  t.equal(Zone.midnight('2026-11-02', 'America/New_York'), Date.parse('2026-11-02T05:00:00Z'), 'ordinary dates as before')
})

t.test('a range bound the API cannot take is named, never rolled over or moved to another century', async (t) => {
  t.equal(Zone.dateProblem('2026-11-14'), '')
  t.equal(Zone.dateProblem('1970-01-01'), '')
  t.equal(Zone.dateProblem('0050-01-01'), '(0050-01-01) is before 1970, the earliest year tokenledger takes')
  t.equal(Zone.dateProblem('0070-01-01'), '(0070-01-01) is before 1970, the earliest year tokenledger takes')
  t.equal(Zone.dateProblem('2026-02-30'), '(2026-02-30) is not a calendar date')
  t.equal(Zone.dateProblem('2026-13-01'), '(2026-13-01) is not a calendar date')
  t.equal(Zone.dateProblem('2024-02-29'), '')
  t.equal(Zone.dateProblem('26-11-14'), 'must be a date (YYYY-MM-DD)')
})

t.test('dashboard in Chromium: a link with a year before 100 is refused with a message, not shown as 19xx', { skip: skipWithoutChromium }, async (t) => {
  await eachEngine(t, async (t, engine) => {
    const app = await build(t, engine)
    const { origin, page, problems } = await servedPage(t, app)
    const open = async (hash: Record<string, string>) => {
      await page.goto(`${origin}/#${new URLSearchParams({ window: 'DAY', group: 'MODEL', ...hash })}`)
      await page.waitForSelector('#app[data-state="invalid"], #app[data-state="needs-key"]')
      return { state: await page.getAttribute('#app', 'data-state'), message: await page.textContent('#message') }
    }
    t.same(await open({ from: '0050-01-01', to: '2026-11-14', tz: 'UTC' }),
      { state: 'invalid', message: '“From” (0050-01-01) is before 1970, the earliest year tokenledger takes.' })
    // 0070 read as 1970 is a range the API takes: the page loaded it, saying 0070.
    t.same(await open({ from: '0070-01-01', to: '0099-12-31', tz: 'UTC' }), { state: 'invalid', message:
      '“From” (0070-01-01) is before 1970, the earliest year tokenledger takes. “To” (0099-12-31) is before 1970, the earliest year tokenledger takes.' })
    t.equal(await page.getAttribute('#message', 'class'), 'alert')
    // East of UTC, 1970-01-01's midnight is before the first instant the API takes.
    t.same(await open({ from: '1970-01-01', to: '1970-01-02', tz: 'Asia/Tokyo' }), { state: 'invalid',
      message: '“From” 1970-01-01 in Asia/Tokyo starts before 1970-01-01T00:00:00Z, the earliest time tokenledger takes.' })
    t.same(await open({ from: '9999-12-01', to: '9999-12-31', tz: 'America/New_York' }), { state: 'invalid',
      message: '“To” 9999-12-31 in America/New_York ends after 9999-12-31T23:59:59Z, the latest time tokenledger takes.' })
    // A range the API takes goes on to ask for a key, as before.
    t.equal((await open({ from: '1970-01-01', to: '1970-01-31', tz: 'UTC' })).state, 'needs-key')
    t.same(problems, [], 'no script errors')
  })
})
