import t from 'tap'
import { ADMIN_TOKEN, build, eachEngine } from '../helpers.js'
import { servedPage, skipWithoutChromium } from '../factories/chromium.js'
import { poster } from '../factories/dashboard.js'

// The total's breakdown by token class ("Cached input cost", "Cache writes cost", …) wrote each class's
// amount with the money formatter alone: a class the card has no rate for read "$0.00", the one thing
// tokenledger promises never to show for unpriced usage. The API reports what is unpriced per cost
// (complete, unpricedTokens, unpricedQuantity), and the page must write such a class as unpriced; where
// unpriced tokens may lie in a class that also has priced ones, its amount is a lower bound and says so.

t.test('dashboard in Chromium: the cost breakdown writes an unpriced token class as unpriced, never $0.00', { skip: skipWithoutChromium }, async (t) => {
  await eachEngine(t, async (t, engine) => {
    const app = await build(t, engine)
    const call = poster(app, ADMIN_TOKEN)
    // Input and output have a rate; cached input and cache writes have none on this card.
    await call('/v1/rate-cards/default/rates', { rates: [{ provider: 'part', model: 'part-model', effective_from: '2026-01-01T00:00:00Z', prices: { input: '1', output: '2' } }] })
    await call('/v1/tenants', { id: 'classes', name: 'Classes' })
    const ingest = await call('/v1/tenants/classes/api-keys', { name: 'seed', scopes: ['ingest'] })
    const bucket = (day: string, model: string, tokens: Record<string, number>) => ({
      start_time: `2026-11-${day}T12:00:00Z`, end_time: `2026-11-${day}T13:00:00Z`, provider: 'part', model, num_model_requests: 1, ...tokens,
    })
    await call('/v1/usage/buckets', { buckets: [
      bucket('02', 'part-model', { input_tokens: 1_000_000, input_cached_tokens: 200_000, input_cache_write_tokens: 100_000, output_tokens: 500_000 }),
      // A model with no rate at all, on another day: its tokens are unpriced in every class.
      bucket('05', 'no-rate-model', { input_tokens: 400_000, output_tokens: 100_000 }),
    ] }, { authorization: `Bearer ${ingest.key}` })
    const { key } = await call('/v1/tenants/classes/api-keys', { name: 'dashboard', scopes: ['read'] })

    const { origin, page, problems } = await servedPage(t, app)
    const facts = () => page.$$eval('#totals-body dl.facts dt', (dts) => dts.map((dt) => {
      const dd = dt.nextElementSibling!
      return [dt.textContent, dd.textContent, dd.getAttribute('data-complete')]
    }))
    const show = async (from: string, to: string) => {
      await page.goto(`${origin}/#${new URLSearchParams({ from, to, window: 'DAY', tz: 'UTC', group: 'MODEL' })}`)
      if (!(await page.evaluate(`sessionStorage.getItem('tokenledger.dashboard.key')`))) {
        await page.fill('#key', key)
        await page.click('#key-save')
      }
      await page.waitForSelector(`#app[data-state="ready"] #message:has-text("${from} to ${to}")`)
    }

    // Only part-model's day: the 300,000 unpriced tokens are exactly its cached input and cache writes.
    await show('2026-11-02', '2026-11-02')
    t.equal(await page.getAttribute('#total-cost', 'data-complete'), 'false')
    t.equal(await page.textContent('#completeness'), '300,000 unpriced tokens, total incomplete (the amount above is a lower bound).')
    t.same((await facts()).slice(0, 5), [
      ['Uncached input cost', '$0.7000', 'true'],
      ['Cached input cost', 'unpriced (200,000 tokens)', 'false'],
      ['Cache writes cost', 'unpriced (100,000 tokens)', 'false'],
      ['Output cost', '$1.00', 'true'],
      ['Resources cost', '$0.00', 'true'],
    ], 'the classes with no rate are named unpriced; the priced ones are exact')
    t.match(await page.getAttribute('#totals-body dd[data-class="cachedInput"]', 'title'), /no rate on the card/i)

    // Both days: 500,000 more unpriced tokens fall in classes that also hold priced tokens, so those amounts
    // are lower bounds, and say so.
    await show('2026-11-01', '2026-11-07')
    t.equal(await page.textContent('#completeness'), '800,000 unpriced tokens, total incomplete (the amount above is a lower bound).')
    t.same((await facts()).slice(0, 5), [
      ['Uncached input cost', '≥ $0.7000', 'false'],
      ['Cached input cost', 'unpriced (200,000 tokens)', 'false'],
      ['Cache writes cost', 'unpriced (100,000 tokens)', 'false'],
      ['Output cost', '≥ $1.00', 'false'],
      ['Resources cost', '$0.00', 'true'],
    ], 'a class that may hold unpriced tokens is a lower bound')
    t.match(await page.getAttribute('#totals-body dd[data-class="input"]', 'title'), /lower bound/)

    // Only the unrated model's day: nothing priced, every class with tokens is unpriced.
    await show('2026-11-05', '2026-11-05')
    t.same((await facts()).slice(0, 5), [
      ['Uncached input cost', 'unpriced (400,000 tokens)', 'false'],
      ['Cached input cost', '$0.00', 'true'],
      ['Cache writes cost', '$0.00', 'true'],
      ['Output cost', 'unpriced (100,000 tokens)', 'false'],
      ['Resources cost', '$0.00', 'true'],
    ])
    t.notOk((await facts()).some(([, text, complete]) => complete === 'false' && text?.includes('$0.00')), 'no unpriced class reads $0.00')
    t.same(problems, [], 'no script errors')
  })
})

// The page read "unpriced" from a class's amount being 0 while the cost was incomplete: a class priced at
// exactly $0 (here cached input) beside unpriced tokens in another class (cache writes, no rate) read
// "unpriced (n tokens)". It now reads the API's unpriced tokens per class (Cost.unpricedTokensByClass).
t.test('dashboard in Chromium: a class priced at exactly $0 beside an unpriced class reads $0.00, not unpriced', { skip: skipWithoutChromium }, async (t) => {
  await eachEngine(t, async (t, engine) => {
    const app = await build(t, engine)
    const call = poster(app, ADMIN_TOKEN)
    await call('/v1/rate-cards/default/rates', { rates: [{ provider: 'zero', model: 'zero-model', effective_from: '2026-01-01T00:00:00Z',
      prices: { input: '1', cached_input: '0', output: '2' } }] })
    await call('/v1/tenants', { id: 'zero', name: 'Zero' })
    const ingest = await call('/v1/tenants/zero/api-keys', { name: 'seed', scopes: ['ingest'] })
    await call('/v1/usage/buckets', { buckets: [{ start_time: '2026-11-02T12:00:00Z', end_time: '2026-11-02T13:00:00Z', provider: 'zero',
      model: 'zero-model', num_model_requests: 1, input_tokens: 1_000_000, input_cached_tokens: 200_000, input_cache_write_tokens: 100_000,
      output_tokens: 500_000 }] }, { authorization: `Bearer ${ingest.key}` })
    const { key } = await call('/v1/tenants/zero/api-keys', { name: 'dashboard', scopes: ['read'] })

    const { origin, page, problems } = await servedPage(t, app)
    await page.goto(`${origin}/#${new URLSearchParams({ from: '2026-11-02', to: '2026-11-02', window: 'DAY', tz: 'UTC', group: 'MODEL' })}`)
    await page.fill('#key', key)
    await page.click('#key-save')
    await page.waitForSelector('#app[data-state="ready"] #message:has-text("2026-11-02 to 2026-11-02")')
    const facts = await page.$$eval('#totals-body dl.facts dt', (dts) => dts.map((dt) => {
      const dd = dt.nextElementSibling!
      return [dt.textContent, dd.textContent, dd.getAttribute('data-complete'), dd.getAttribute('data-unpriced')]
    }))
    t.equal(await page.textContent('#completeness'), '100,000 unpriced tokens, total incomplete (the amount above is a lower bound).')
    t.same(facts.slice(0, 5), [
      ['Uncached input cost', '$0.7000', 'true', null],
      ['Cached input cost', '$0.00', 'true', null],
      ['Cache writes cost', 'unpriced (100,000 tokens)', 'false', '100000'],
      ['Output cost', '$1.00', 'true', null],
      ['Resources cost', '$0.00', 'true', null],
    ], 'the $0 class is priced and complete; only the class with no rate is unpriced')
    t.same(problems, [], 'no script errors')
  })
})
