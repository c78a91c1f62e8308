import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'
import { newCard, postRates } from '../factories/rate-cards.js'
import { ASTRAL_AND_HIGH_BMP, byCodePoint } from '../factories/code-point-order.js'

/**
 * GET /v1/rate-cards/{card}/rates lists the rates by provider, model and service tier in code-point order,
 * then batch. It sorted them with localeCompare — the order of the Node host's locale (en: `a` before `B`,
 * `a_b` before `a0`, `é` before `f`), unlike every list the database orders (test/routes/list-order.test.ts),
 * and different again on a host with another locale. Then by UTF-16 code unit, which puts a character above
 * U+FFFF (`😀`) before U+E000–FFFF (`！`), where the database's lists put it after.
 */

const MODELS = ['B', 'a', 'a-b', 'aB', 'a_b', 'ab', 'a0', 'e', 'é', 'f', '*', 'gpt-4o', 'gpt-4o-*', 'gpt-4o-mini', ...ASTRAL_AND_HIGH_BMP]

t.notSame([...MODELS].sort(new Intl.Collator('en-US').compare), byCodePoint(MODELS), 'the models are ordered otherwise by en-US')

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key } = await tenantWithKey(app, ['read'])
  const card = await newCard(app)
  // Every model for two providers, two service tiers and both batch values.
  const rates = ['openai', 'anthropic'].flatMap((provider) =>
    MODELS.flatMap((model) => ['default', 'flex'].flatMap((tier) => [false, true].map((batch) =>
      ({ provider, model, service_tier: tier, batch, effective_from: 1735689600, prices: { input: '1' } })))))
  const posted = await postRates(app, card, rates)
  t.equal(posted.statusCode, 201, posted.body.slice(0, 300))

  const res = await app.inject({ method: 'GET', url: `/v1/rate-cards/${card}/rates`, headers: bearer(key) })
  t.equal(res.statusCode, 200, res.body.slice(0, 300))
  const listed = (res.json() as { data: { provider: string; model: string; service_tier: string; batch: boolean }[] }).data
    .map((r) => [r.provider, r.model, r.service_tier, r.batch])
  const expected = byCodePoint(['openai', 'anthropic']).flatMap((provider) =>
    byCodePoint(MODELS).flatMap((model) => byCodePoint(['default', 'flex']).flatMap((tier) => [false, true].map((batch) => [provider, model, tier, batch]))))
  t.same(listed, expected, 'by provider, model and service tier in code-point order, then batch')
})
