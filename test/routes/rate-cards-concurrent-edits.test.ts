import t from 'tap'
import { bearer, build, eachEngine, isProblem, tenantWithKey } from '../helpers.js'
import { newCard, postRates } from '../factories/rate-cards.js'

/**
 * Two edits of one card at once, each fine on the card it read, must not both be written into an
 * overlap: writers take the card's lock and check the card as it stands after the other's commit.
 */
void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key } = await tenantWithKey(app, ['read'])
  const inForce = async (card: string, at: string) =>
    ((await app.inject({ method: 'GET', url: `/v1/rate-cards/${card}/rates?at=${at}`, headers: bearer(key) })).json().data as { prices: { input: string } }[])
      .map((r) => r.prices.input)

  t.test('two requests that each move the same rate and fill its old start: one 201, one 409', async (t) => {
    const card = await newCard(app)
    const x = (await postRates(app, card, [{ model: 'm', effective_from: '2025-01-01T00:00:00Z', prices: { input: '1' } }])).json().rates[0].id as number
    const edit = (month: string, input: string) =>
      postRates(app, card, [
        { model: 'm', effective_from: `2025-${month}-01T00:00:00Z`, prices: { input: '1' }, supersedes: x },
        { model: 'm', effective_from: '2025-01-01T00:00:00Z', prices: { input } },
      ])
    const answers = await Promise.all([edit('02', '0.5'), edit('03', '0.25')])
    t.same(answers.map((a) => a.statusCode).sort(), [201, 409], answers.map((a) => a.body.slice(0, 200)).join('\n'))
    const refused = answers.find((a) => a.statusCode === 409)!
    t.ok(isProblem(refused))
    t.match(refused.json().errors, [{ index: 0, path: 'supersedes', message: new RegExp(`rate ${x} is already superseded`) }])
    t.same((await inForce(card, '2025-01-15T00:00:00Z')).length, 1, 'one rate in force at the old start')
  })

  t.test('two requests whose explicit ranges cross: one 201, one 409 naming the rate written first', async (t) => {
    const card = await newCard(app)
    const range = (from: string, to: string, input: string) =>
      postRates(app, card, [{ model: 'w', effective_from: from, effective_to: to, prices: { input } }])
    const answers = await Promise.all([range('2025-01-01T00:00:00Z', '2025-03-01T00:00:00Z', '1'), range('2025-02-01T00:00:00Z', '2025-04-01T00:00:00Z', '2')])
    t.same(answers.map((a) => a.statusCode).sort(), [201, 409])
    const written = answers.find((a) => a.statusCode === 201)!.json().rates[0].id as number
    t.match(answers.find((a) => a.statusCode === 409)!.json().errors, [{ path: 'effective_from', message: new RegExp(`stored rate ${written} `) }])
    t.same(await inForce(card, '2025-02-15T00:00:00Z'), [answers[0]!.statusCode === 201 ? '1' : '2'])
  })
})
