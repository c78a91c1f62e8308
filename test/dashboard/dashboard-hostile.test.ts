import type { FastifyInstance } from 'fastify'
import type { Page } from 'playwright-core'
import t from 'tap'
import { admin, bearer, build, eachEngine, tenantWithKey, uniqueId } from '../helpers.js'
import { servedPage, skipWithoutChromium } from '../factories/chromium.js'

// The dashboard as a hostile tenant and a confused user see it: names that tenants choose (models,
// projects) hold markup, bidi controls and 256 characters without a break, and none of the usage has a price.

const skip = skipWithoutChromium

/** One bucket per name on its own November day, on a provider with no price: every token is unpriced. */
async function seedUnpriced(app: FastifyInstance, models: string[]) {
  const { key: ingest, tenantId } = await tenantWithKey(app, ['ingest'], uniqueId('hostile'))
  const buckets = models.map((model, i) => ({
    start_time: `2026-11-${String(i + 1).padStart(2, '0')}T12:00:00Z`, end_time: `2026-11-${String(i + 1).padStart(2, '0')}T13:00:00Z`,
    provider: 'unpriced-co', model, num_model_requests: 1, input_tokens: 1000 + i, output_tokens: 1,
  }))
  const res = await app.inject({ method: 'POST', url: '/v1/usage/buckets', headers: bearer(ingest), payload: { buckets } })
  if (res.statusCode >= 300) throw new Error(`buckets: ${res.statusCode} ${res.body}`)
  const read = await app.inject({ method: 'POST', url: `/v1/tenants/${tenantId}/api-keys`, headers: admin, payload: { name: 'dashboard', scopes: ['read'] } })
  const { key } = read.json() as { key: string }
  return { key, tokens: buckets.reduce((n, b) => n + b.input_tokens + b.output_tokens, 0) }
}

async function show(page: Page, origin: string, key: string, days: number) {
  const to = `2026-11-${String(days).padStart(2, '0')}`
  await page.goto(`${origin}/#${new URLSearchParams({ from: '2026-11-01', to, window: 'DAY', tz: 'UTC', group: 'MODEL' })}`)
  await page.fill('#key', key)
  await page.click('#key-save')
  await page.waitForSelector('#app[data-state="ready"], #app[data-state="error"]')
}

t.test('dashboard in Chromium: a total with no price at all is written as unpriced, never $0.00', { skip }, async (t) => {
  await eachEngine(t, async (t, engine) => {
    const app = await build(t, engine)
    const { key, tokens } = await seedUnpriced(app, ['mystery-model-a', 'mystery-model-b'])
    const { origin, page, problems } = await servedPage(t, app)
    await show(page, origin, key, 2)
    t.equal(await page.getAttribute('#app', 'data-state'), 'ready', String(await page.textContent('#message')))
    t.equal(await page.getAttribute('#total-cost', 'data-value'), '0', 'the exact total is the API’s 0')
    t.equal(await page.getAttribute('#total-cost', 'data-complete'), 'false')
    t.equal(await page.textContent('#total-cost'), `unpriced (${tokens.toLocaleString('en-US')} tokens)`,
      'the headline says what has no price, as every other cost on the page does')
    t.equal(await page.textContent('#classes-table tfoot td[data-complete]'), `unpriced (${tokens.toLocaleString('en-US')} tokens)`,
      'the same words as the tokens-by-class total')
    t.same(problems, [], 'no script errors')
  })
})

/**
 * Where `text` is drawn inside the element matching `selector` (its first occurrence, within one text node):
 * the x of its first and of its last character, as laid out. Reading order left to right puts first < last.
 */
async function drawnEnds(page: Page, selector: string, text: string): Promise<[number, number]> {
  // Page code as text (the tests have no DOM types), as the other dashboard tests do.
  return page.evaluate(`(function (selector, text) {
    var walker = document.createTreeWalker(document.querySelector(selector), NodeFilter.SHOW_TEXT);
    for (var node = walker.nextNode(); node; node = walker.nextNode()) {
      var at = node.textContent.indexOf(text);
      if (at < 0) continue;
      var x = function (offset) {
        var range = document.createRange();
        range.setStart(node, offset);
        range.setEnd(node, offset + 1);
        return range.getBoundingClientRect().x;
      };
      return [x(at), x(at + text.length - 1)];
    }
    throw new Error(text + ' is not drawn in ' + selector);
  })(${JSON.stringify(selector)}, ${JSON.stringify(text)})`)
}

t.test('dashboard in Chromium: a name holding a right-to-left override reverses no other text', { skip }, async (t) => {
  await eachEngine(t, async (t, engine) => {
    const app = await build(t, engine)
    // U+202E RIGHT-TO-LEFT OVERRIDE, never closed: it turns everything after it in its paragraph around.
    const evil = 'gpt-\u202Eevil'
    const { key } = await seedUnpriced(app, ['after-name', evil])
    const { origin, page, problems } = await servedPage(t, app)
    await show(page, origin, key, 2)
    t.equal(await page.getAttribute('#app', 'data-state'), 'ready', String(await page.textContent('#message')))

    // The note under the chart names both groups in one sentence, the evil one first (more tokens).
    const note = await page.textContent('#chart-unpriced')
    t.equal(note, `No bar for usage without a price: ${evil} (1,002 unpriced tokens), after-name (1,001 unpriced tokens).`)
    for (const text of ['(1,002 unpriced tokens)', 'after-name', '(1,001 unpriced tokens)']) {
      const [first, last] = await drawnEnds(page, '#chart-unpriced', text)
      t.ok(first < last, `"${text}" reads left to right after the name (${first} < ${last})`)
    }

    // The chart's tooltip writes "name: cost" per group; drawn in the page, the cost after the name stays as it is.
    await page.evaluate(`(function () {
      var o = echarts.getInstanceByDom(document.getElementById('chart')).getOption();
      var i = o.series.findIndex(function (s) { return s.name === ${JSON.stringify(evil)}; });
      var box = document.createElement('div');
      box.id = 'tooltip-probe';
      box.innerHTML = o.tooltip[0].formatter([{ dataIndex: 1, seriesIndex: i, marker: '', seriesName: o.series[i].name }]);
      document.body.appendChild(box);
    })()`)
    t.match(await page.textContent('#tooltip-probe'), `${evil}: unpriced (1,002 tokens)`)
    const [first, last] = await drawnEnds(page, '#tooltip-probe', 'unpriced (1,002 tokens)')
    t.ok(first < last, `the tooltip's cost reads left to right after the name (${first} < ${last})`)
    t.same(problems, [], 'no script errors')
  })
})

t.test('dashboard in Chromium: a 256-character name without a break stays inside the page', { skip }, async (t) => {
  await eachEngine(t, async (t, engine) => {
    const app = await build(t, engine)
    const long = `m${'x'.repeat(255)}` // the longest model name the contract stores
    const { key } = await seedUnpriced(app, ['short-name', long])
    const { origin, page, problems } = await servedPage(t, app)
    await show(page, origin, key, 2)
    t.equal(await page.getAttribute('#app', 'data-state'), 'ready', String(await page.textContent('#message')))
    t.match(await page.textContent('#chart-unpriced'), long, 'the note names it')
    const widths = JSON.parse(await page.evaluate(`JSON.stringify({
      page: document.documentElement.scrollWidth, viewport: document.documentElement.clientWidth,
      note: document.getElementById('chart-unpriced').scrollWidth, noteBox: document.getElementById('chart-unpriced').clientWidth })`)) as
      { page: number; viewport: number; note: number; noteBox: number }
    t.ok(widths.note <= widths.noteBox, `the note wraps inside its box (${widths.note} ≤ ${widths.noteBox})`)
    t.ok(widths.page <= widths.viewport, `the page needs no horizontal scrolling (${widths.page} ≤ ${widths.viewport})`)
    t.same(problems, [], 'no script errors')
  })
})
