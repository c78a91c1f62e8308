import t from 'tap'
import { bearer, build, eachEngine, isProblem, tenantWithKey } from '../helpers.js'
import { newCard as newRateCard, postRates } from '../factories/rate-cards.js'

interface Item { index?: number; path: string; message: string }

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const reader = await tenantWithKey(app, ['read'])
  const newCard = () => newRateCard(app)
  const post = (card: string, rates: unknown[]) => postRates(app, card, rates)
  const get = (card: string, query = '') => app.inject({ method: 'GET', url: `/v1/rate-cards/${card}/rates${query}`, headers: bearer(reader.key) })
  const count = async (card: string) =>
    (await app.testDb.query<{ n: number }>('select count(*)::int8 as n from rates r join rate_cards c on c.id = r.card_id where c.name = $1', [card]))[0]!.n

  t.test('texts an array literal must quote are stored verbatim', async (t) => {
    const card = await newCard()
    const texts = ['a"b', 'back\\slash', 'comma, {brace}', 'NULL', ' spaced ', 'é 😀']
    const rates = texts.map((text, i) => ({ model: `m-${i}-${text}`, effective_from: 1735689600, prices: { input: '1' }, source: text,
      unit_prices: [{ resource: 'images', attributes: { size: text }, price: '0.5' }] }))
    const res = await post(card, rates)
    t.equal(res.statusCode, 201, res.body.slice(0, 300))
    const stored = (res.json() as { rates: { model: string; source: string; unit_prices: { attributes: { size: string } }[] }[] }).rates
    t.same(stored.map((r) => [r.model, r.source, r.unit_prices[0]!.attributes.size]), texts.map((text, i) => [`m-${i}-${text}`, text, text]))
  })

  t.test('stores rates with defaults, canonical prices, id and recorded_at', async (t) => {
    const card = await newCard()
    const before = Date.now()
    const res = await post(card, [{ model: 'gpt-x', effective_from: 1735689600, prices: { input: '0.2500', output: '002.00', cache_write: '0.000' }, source: 'test' }])
    t.equal(res.statusCode, 201)
    const [r] = res.json().rates
    t.match(r, { card, provider: 'openai', model: 'gpt-x', service_tier: 'default', batch: false, effective_from: '2025-01-01T00:00:00.000Z', effective_to: null, supersedes: null, source: 'test' })
    t.same(r.prices, { input: '0.25', output: '2', cache_write: '0' }, 'absent classes stay absent; zeros are "0"')
    t.type(r.id, 'number')
    t.ok(Date.parse(r.recorded_at) >= before - 1000)
  })

  t.test('lists every validation problem with its index and writes nothing', async (t) => {
    const card = await newCard()
    const res = await post(card, [
      { model: 'ok', effective_from: '2025-01-01T00:00:00Z', prices: { input: '1' } },
      { model: 'a', effective_from: '2025-01-01T00:00:00Z', prices: { input: '-1', output: '1e-6', cached_input: 0.5, bogus: '1' } },
      { model: 'gpt-*-mini', effective_from: 'yesterday' },
      { model: 'b', effective_from: '2025-02-01T00:00:00Z', effective_to: '2025-01-01T00:00:00Z' },
      { model: 'c', effective_from: '2025-02-01T00:00:00Z', effective_to: '2025-02-01T00:00:00Z' },
      { effective_from: '2025-01-01T00:00:00Z', service_tier: 'standard' },
    ])
    t.equal(res.statusCode, 400)
    t.ok(isProblem(res))
    const errors = res.json().errors as Item[]
    const at = (i: number) => errors.filter((e) => e.index === i).map((e) => e.path).sort()
    t.same(at(0), [])
    t.same(at(1), ['body.rates.1.prices.bogus', 'body.rates.1.prices.cached_input', 'body.rates.1.prices.input', 'body.rates.1.prices.output'])
    t.same(at(2), ['body.rates.2.effective_from', 'body.rates.2.model'])
    t.same(at(3), ['body.rates.3.effective_to'])
    t.same(at(4), ['body.rates.4.effective_to'])
    t.same(at(5), ['body.rates.5.model', 'body.rates.5.service_tier'])
    t.equal(await count(card), 0)
  })

  t.test('overlaps with stored rates and within the request are 409 naming both', async (t) => {
    const card = await newCard()
    const base = { model: 'm', prices: { input: '1' } }
    const stored = await post(card, [
      { ...base, effective_from: '2025-01-01T00:00:00Z' },
      { ...base, model: 'w', effective_from: '2025-01-01T00:00:00Z', effective_to: '2025-03-01T00:00:00Z' },
    ])
    t.equal(stored.statusCode, 201)
    const [m, w] = stored.json().rates as { id: number }[]

    const same = await post(card, [{ ...base, effective_from: '2025-01-01T00:00:00Z' }])
    t.equal(same.statusCode, 409)
    t.ok(isProblem(same))
    t.match(same.json().errors, [{ index: 0, message: new RegExp(`stored rate ${m!.id}`) }])

    const ranges = await post(card, [{ ...base, model: 'w', effective_from: '2025-02-01T00:00:00Z', effective_to: '2025-04-01T00:00:00Z' }])
    t.equal(ranges.statusCode, 409)
    t.match(ranges.json().errors, [{ index: 0, message: new RegExp(`stored rate ${w!.id}`) }])

    const inRequest = await post(card, [
      { ...base, model: 'n', effective_from: '2025-05-01T00:00:00Z' },
      { ...base, model: 'n', effective_from: '2025-05-01T00:00:00Z', prices: { input: '2' } },
    ])
    t.equal(inRequest.statusCode, 409)
    t.match(inRequest.json().errors, [{ index: 1, message: /rates\[0\]/ }])

    const fine = await post(card, [
      { ...base, effective_from: '2025-06-01T00:00:00Z' },
      { ...base, model: 'w', effective_from: '2025-03-01T00:00:00Z', effective_to: '2025-04-01T00:00:00Z' },
      { ...base, effective_from: '2025-01-01T00:00:00Z', batch: true },
      { ...base, effective_from: '2025-01-01T00:00:00Z', service_tier: 'flex' },
      { ...base, effective_from: '2025-01-01T00:00:00Z', provider: 'azure' },
    ])
    t.equal(fine.statusCode, 201, 'a later start, adjacent ranges, and other tiers/batch/providers do not overlap')
    t.equal(await count(card), 7)
  })

  t.test('supersedes: same card and key, exempt from overlap with its target', async (t) => {
    const card = await newCard()
    const other = await newCard()
    const first = await post(card, [{ model: 'm', effective_from: '2025-01-01T00:00:00Z', prices: { input: '1' } }])
    const id = first.json().rates[0].id as number
    const elsewhere = (await post(other, [{ model: 'm', effective_from: '2025-01-01T00:00:00Z', prices: { input: '1' } }])).json().rates[0].id as number

    const foreign = await post(card, [{ model: 'm', effective_from: '2025-01-01T00:00:00Z', prices: { input: '2' }, supersedes: elsewhere }])
    t.equal(foreign.statusCode, 400)
    t.match(foreign.json().errors, [{ index: 0, path: 'supersedes', message: /not a rate of this card/ }])
    const changedKey = await post(card, [{ model: 'm', batch: true, effective_from: '2025-01-01T00:00:00Z', prices: { input: '2' }, supersedes: id }])
    t.equal(changedKey.statusCode, 400)
    t.match(changedKey.json().errors, [{ index: 0, path: 'supersedes', message: /must keep/ }])

    const fix = await post(card, [{ model: 'm', effective_from: '2025-01-01T00:00:00Z', prices: { input: '1.5' }, supersedes: id }])
    t.equal(fix.statusCode, 201)
    const fixId = fix.json().rates[0].id as number
    const listed = await get(card, '?at=2025-02-01T00:00:00Z')
    t.same(listed.json().data.map((r: { id: number }) => r.id), [fixId], 'the correction replaces the original')
    t.equal(listed.json().data[0].prices.input, '1.5')

    const again = await post(card, [{ model: 'm', effective_from: '2025-01-01T00:00:00Z', prices: { input: '3' }, supersedes: id }])
    t.equal(again.statusCode, 409, 'an already superseded rate cannot be superseded twice')
    const chain = await post(card, [{ model: 'm', effective_from: '2025-01-01T00:00:00Z', prices: { input: '1.75' }, supersedes: fixId }])
    t.equal(chain.statusCode, 201, 'a correction can itself be corrected')
    t.equal((await get(card, '?at=2025-02-01T00:00:00Z')).json().data[0].prices.input, '1.75')
    // The database holds the rule for a writer that bypasses the checks (migration 0026).
    const cardId = (await app.testDb.query<{ id: number }>('select id from rate_cards where name = $1', [card]))[0]!.id
    await t.rejects(
      app.testDb.query(`insert into rates (card_id, provider, model, service_tier, batch, effective_from, input, supersedes) values ($1, 'openai', 'm', 'default', false, '2025-01-01T00:00:00Z', 4, $2)`, [cardId, id]),
      /rates_supersedes_once/,
      'a second rate superseding the same rate is refused by the database',
    )
    t.equal(await count(card), 3, 'nothing was written')
  })

  t.test('one request that moves a rate later and fills its old start is judged on the card it leaves', async (t) => {
    const card = await newCard()
    const x = (await post(card, [{ model: 'm', effective_from: '2025-01-01T00:00:00Z', prices: { input: '1' } }])).json().rates[0].id as number
    const moved = await post(card, [
      { model: 'm', effective_from: '2025-02-01T00:00:00Z', prices: { input: '1' }, supersedes: x },
      { model: 'm', effective_from: '2025-01-01T00:00:00Z', prices: { input: '0.5' } },
    ])
    t.equal(moved.statusCode, 201, moved.body.slice(0, 300))
    const inputAt = async (at: string) => ((await get(card, `?at=${at}`)).json().data as { prices: { input: string } }[]).map((r) => r.prices.input)
    t.same(await inputAt('2025-01-15T00:00:00Z'), ['0.5'], 'the new rate holds the old start')
    t.same(await inputAt('2025-02-01T00:00:00Z'), ['1'], 'the moved rate starts later')
    t.equal(await count(card), 3)

    // The order within the request does not matter, and a real overlap in the final card is still a 409.
    const y = (await post(card, [{ model: 'k', effective_from: '2025-01-01T00:00:00Z', prices: { input: '1' } }])).json().rates[0].id as number
    const still = (await post(card, [{ model: 'k', effective_from: '2025-03-01T00:00:00Z', prices: { input: '3' } }])).json().rates[0].id as number
    const clash = await post(card, [
      { model: 'k', effective_from: '2025-01-01T00:00:00Z', prices: { input: '0.5' } },
      { model: 'k', effective_from: '2025-03-01T00:00:00Z', prices: { input: '2' }, supersedes: y },
    ])
    t.equal(clash.statusCode, 409)
    t.ok(isProblem(clash))
    t.match(clash.json().errors, [{ index: 1, path: 'effective_from', message: new RegExp(`stored rate ${still}\\b`) }])
    t.notOk(JSON.stringify(clash.json().errors).includes(`stored rate ${y} `), 'the rate the request retires is not named')
    t.equal(await count(card), 5, 'nothing was written')
  })

  t.test('?at= picks the rate in force; effective_to ends a rate', async (t) => {
    const card = await newCard()
    t.equal(
      (await post(card, [
        { model: 'm', effective_from: '2025-01-01T00:00:00Z', prices: { input: '1' } },
        { model: 'm', effective_from: '2025-06-10T00:00:00Z', prices: { input: '2' } },
        { model: 'e', effective_from: '2025-01-01T00:00:00Z', effective_to: '2025-02-01T00:00:00Z', prices: { input: '9' } },
      ])).statusCode,
      201,
    )
    const inputAt = async (at: string) =>
      Object.fromEntries(((await get(card, `?at=${at}`)).json().data as { model: string; prices: { input: string } }[]).map((r) => [r.model, r.prices.input]))
    t.same(await inputAt('2024-12-31T23:59:59Z'), {})
    t.same(await inputAt('2025-01-15T00:00:00Z'), { m: '1', e: '9' })
    t.same(await inputAt('2025-06-09T23:59:59Z'), { m: '1' })
    t.same(await inputAt('2025-06-10T00:00:00Z'), { m: '2' })
    t.same(await inputAt(String(Date.UTC(2025, 5, 10) / 1000 - 1)), { m: '1' }, 'unix seconds work too')
    t.same(await inputAt('2030-01-01T00:00:00Z'), { m: '2' })
    const bad = await get(card, '?at=soon')
    t.equal(bad.statusCode, 400)
  })

  t.test('10,000 rates (the most one request takes) are checked without holding the event loop', async (t) => {
    // Every incoming rate was compared with every other one and every stored one, serialising both
    // timeline keys each time: 10,000 rates held the event loop (and /healthz) for over 80 s. The bound
    // catches that stall, not speed: the check is CPU-bound and took 9.7 s once on a loaded 2-core machine.
    const card = await newCard()
    const rates = (tag: string) => Array.from({ length: 10_000 }, (_, i) => ({ model: `${tag}-${i}`, effective_from: 1735689600, prices: { input: '1' } }))
    for (const tag of ['first', 'second']) {
      const started = Date.now()
      const res = await post(card, rates(tag))
      t.equal(res.statusCode, 201, res.statusCode === 201 ? `${tag} 10,000` : res.body.slice(0, 300))
      t.ok(Date.now() - started < 60_000, `${tag} 10,000 rates took ${Date.now() - started} ms`)
    }
    t.equal(await count(card), 20_000)
    const clash = await post(card, [...rates('third').slice(0, 9_999), { model: 'second-42', effective_from: 1735689600, prices: { input: '2' } }])
    t.equal(clash.statusCode, 409, 'an overlap is still found among them')
    t.match(clash.json().errors, [{ index: 9_999, path: 'effective_from' }])
  })

  t.test('?model= resolves like pricing: exact id, then the longest prefix', async (t) => {
    const card = await newCard()
    const from = '2025-01-01T00:00:00Z'
    t.equal(
      (await post(card, [
        { model: 'gpt-5', effective_from: from, prices: { input: '1.25' } },
        { model: 'gpt-5-2025-*', effective_from: from, prices: { input: '1.25' } },
        { model: 'gpt-5-mini-2025-*', effective_from: from, prices: { input: '0.25' } },
        { model: 'gpt-5-mini-*', effective_from: from, prices: { input: '0.3' } },
        { model: 'gpt-5-mini-2025-08-07', batch: true, effective_from: from, prices: { input: '0.125' } },
      ])).statusCode,
      201,
    )
    const resolve = async (model: string) =>
      ((await get(card, `?model=${model}`)).json().data as { model: string; batch: boolean }[]).map((r) => `${r.model}${r.batch ? ' (batch)' : ''}`).sort()
    t.same(await resolve('gpt-5-mini-2025-08-07'), ['gpt-5-mini-2025-*', 'gpt-5-mini-2025-08-07 (batch)'])
    t.same(await resolve('gpt-5-mini-2026-01-01'), ['gpt-5-mini-*'])
    t.same(await resolve('gpt-5-2025-08-07'), ['gpt-5-2025-*'])
    t.same(await resolve('gpt-5'), ['gpt-5'])
    t.same(await resolve('gpt-4o'), [])
  })

  t.test('?model= lists only the rates pricing would use: the model outranks a context tier', async (t) => {
    const card = await newCard()
    const from = '2025-01-01T00:00:00Z'
    t.equal(
      (await post(card, [
        { model: 'm-1', effective_from: from, prices: { input: '1' } },
        { model: 'm-*', context_tier: '200k-1M', effective_from: from, prices: { input: '9' } },
        { model: 'm-*', effective_from: from, prices: { input: '5' } },
        { model: 'm-2', context_tier: '0-200k', effective_from: from, prices: { input: '3' } },
      ])).statusCode,
      201,
    )
    const listed = async (model: string) =>
      ((await get(card, `?model=${model}&at=${from}`)).json().data as { model: string; context_tier: string | null; prices: { input: string } }[])
        .map((r) => `${r.model} ${r.context_tier ?? 'any'} ${r.prices.input}`).sort()
    // m-1's rate for any tier prices its 200k-1M usage too (it was listed beside m-*'s 200k-1M rate at 9).
    t.same(await listed('m-1'), ['m-1 any 1'])
    t.same(await listed('m-2'), ['m-* 200k-1M 9', 'm-* any 5', 'm-2 0-200k 3'])
    const tenant = await tenantWithKey(app)
    const bucket = (model: string, tier: string | null) => ({ start_time: from, end_time: '2025-01-01T01:00:00Z', model, context_tier: tier, input_tokens: 1_000_000 })
    const ingest = await app.inject({
      method: 'POST',
      url: '/v1/usage/buckets',
      headers: bearer(tenant.key),
      payload: { buckets: [bucket('m-1', '200k-1M'), bucket('m-2', null), bucket('m-2', '0-200k'), bucket('m-2', '200k-1M')] },
    })
    t.equal(ingest.statusCode, 200, ingest.body)
    const usage = await app.inject({
      method: 'POST',
      url: '/graphql',
      headers: bearer(tenant.key),
      payload: { query: `{ usage(from: "${from}", to: "2025-01-02T00:00:00Z", window: TOTAL, groupBy: [MODEL, CONTEXT_TIER], rateCard: "${card}") { rows { model contextTier cost { total } } } }` },
    })
    t.same(
      (usage.json().data.usage.rows as { model: string; contextTier: string | null; cost: { total: string } }[]).map((r) => `${r.model} ${r.contextTier ?? 'any'} ${r.cost.total}`),
      ['m-1 200k-1M 1', 'm-2 0-200k 3', 'm-2 200k-1M 9', 'm-2 any 5'],
      'pricing uses exactly the listed rates',
    )
  })
})
