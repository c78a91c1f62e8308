import t from 'tap'
import { admin, bearer, build, eachEngine, isProblem, tenantWithKey, uniqueId } from '../helpers.js'
import { seedBuckets } from '../factories/usage.js'

/**
 * Who can change whose prices. Only the admin token writes rate cards; acting for a tenant (X-Tenant-Id)
 * it writes that tenant's cards only: another tenant's card is invisible (404, as on every route), and a
 * global card — `default` among them, the prices of every tenant — is changed without X-Tenant-Id, never by
 * a request acting for one tenant (403). Two real tenants; B's priced usage shows whose prices moved.
 */
void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const a = await tenantWithKey(app, ['read'])
  const b = await tenantWithKey(app, ['read'])
  const asAdminFor = (tenantId: string) => ({ ...admin, 'x-tenant-id': tenantId })
  const model = uniqueId('model')
  const rate = (input: string) => ({ model, effective_from: '2025-01-01T00:00:00Z', prices: { input, output: input } })
  await seedBuckets(app.testDb, b.tenantId, [
    { start: new Date('2025-06-01T00:00:00Z'), end: new Date('2025-06-02T00:00:00Z'), model, inText: 1_000_000, outText: 1_000_000 },
  ])
  const put = (card: string, headers: Record<string, string>) =>
    app.inject({ method: 'PUT', url: `/v1/rate-cards/${card}`, headers, payload: { currency: 'USD' } })
  const post = (card: string, headers: Record<string, string>, input: string) =>
    app.inject({ method: 'POST', url: `/v1/rate-cards/${card}/rates`, headers, payload: { rates: [rate(input)] } })
  /** B's cost of its usage on `card`, as B's own key reads it. */
  const costOfB = async (card: string) => {
    const res = await app.inject({
      method: 'POST',
      url: '/graphql',
      headers: bearer(b.key),
      payload: { query: `{ usage(from: "2025-06-01T00:00:00Z", to: "2025-06-02T00:00:00Z", window: TOTAL, rateCard: "${card}") { totals { cost { total complete } } } }` },
    })
    if (res.statusCode !== 200 || res.json().errors) throw new Error(res.body)
    return (res.json() as { data: { usage: { totals: { cost: { total: string; complete: boolean } } } } }).data.usage.totals.cost
  }
  const ratesOnCard = async (card: string) =>
    (await app.testDb.query<{ n: number }>('select count(*)::int8 as n from rates r join rate_cards c on c.id = r.card_id where c.name = $1 and r.model = $2', [card, model]))[0]!.n

  t.test('acting for A, the admin token cannot write or read B’s private card', async (t) => {
    const cardB = uniqueId('b-card')
    t.equal((await put(cardB, asAdminFor(b.tenantId))).statusCode, 201)
    t.equal((await post(cardB, asAdminFor(b.tenantId), '2')).statusCode, 201)
    const before = await costOfB(cardB)
    t.same(before, { total: '4', complete: true }, '1M input and 1M output at 2 USD per 1M')

    const write = await post(cardB, asAdminFor(a.tenantId), '100')
    t.equal(write.statusCode, 404)
    t.ok(isProblem(write))
    t.equal(write.json().detail, `rate card "${cardB}" does not exist`, 'the same answer as a card that does not exist')
    const read = await app.inject({ method: 'GET', url: `/v1/rate-cards/${cardB}/rates`, headers: asAdminFor(a.tenantId) })
    t.equal(read.statusCode, 404)
    t.equal((await app.inject({ method: 'GET', url: `/v1/rate-cards/${cardB}/rates`, headers: bearer(a.key) })).statusCode, 404)
    t.equal((await post(cardB, bearer(a.key), '100')).statusCode, 403, 'a tenant key never writes cards')
    t.equal(await ratesOnCard(cardB), 1, 'nothing was written')
    t.same(await costOfB(cardB), before, 'B’s prices are unchanged')
  })

  t.test('acting for A, the admin token cannot change a global card (B’s prices too)', async (t) => {
    const shared = uniqueId('shared')
    t.equal((await put(shared, admin)).statusCode, 201)
    t.same(await costOfB(shared), { total: '0', complete: false }, 'unpriced before')
    t.same(await costOfB('default'), { total: '0', complete: false }, 'the default card does not know the model')

    for (const card of [shared, 'default']) {
      const write = await post(card, asAdminFor(a.tenantId), '100')
      t.equal(write.statusCode, 403, `${card}: ${write.body}`)
      t.ok(isProblem(write))
      t.match(write.json().detail, /global/)
      t.equal(await ratesOnCard(card), 0, `${card}: nothing was written`)
      t.equal((await post(card, bearer(a.key), '100')).statusCode, 403, `${card}: a tenant key never writes cards`)
      t.equal((await put(card, asAdminFor(a.tenantId))).statusCode, 409, `${card}: nor re-describes it as A’s`)
    }
    t.same(await costOfB(shared), { total: '0', complete: false }, 'B’s prices on the shared card are unchanged')
    t.same(await costOfB('default'), { total: '0', complete: false }, 'and on the default card')

    // The operator changes a global card without X-Tenant-Id: every tenant's prices follow.
    t.equal((await post(shared, admin, '3')).statusCode, 201)
    t.same(await costOfB(shared), { total: '6', complete: true })
  })

  t.test('acting for A, the admin token writes A’s own card', async (t) => {
    const cardA = uniqueId('a-card')
    t.equal((await put(cardA, asAdminFor(a.tenantId))).statusCode, 201)
    t.equal((await post(cardA, asAdminFor(a.tenantId), '5')).statusCode, 201)
    t.equal(await ratesOnCard(cardA), 1)
    const fromB = await app.inject({ method: 'POST', url: '/graphql', headers: bearer(b.key), payload: { query: `{ usage(from: "2025-06-01T00:00:00Z", to: "2025-06-02T00:00:00Z", rateCard: "${cardA}") { totals { cost { total } } } }` } })
    t.equal(fromB.json().errors?.[0]?.extensions?.code, 'BAD_USER_INPUT', 'B cannot price with A’s card')
  })
})
