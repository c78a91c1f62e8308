import Fastify from 'fastify'
import t, { type Test } from 'tap'
import app from '../../src/app.js'
import type { Engine } from '../../src/db/client.js'
import { routerErrorOptions } from '../../src/plugins/errors.js'
import { createTenantGate } from '../../src/usage/tenant-gate.js'
import { putBudget } from '../factories/budgets.js'
import { bearer, eachEngine, freshDb, isProblem, tenantWithKey, testConfig } from '../helpers.js'

/**
 * A budget's spend is a usage query: reading it (REST and GraphQL) holds one of the tenant's
 * TENANT_QUERY_CONCURRENCY slots, so a tenant at its share cannot go on querying through budget reads.
 */
async function buildWithGate(t: Test, engine: Engine) {
  const db = await freshDb(t, engine)
  const gate = createTenantGate({ perTenant: 1, maxWaitMs: 300 })
  const server = Fastify({ ...routerErrorOptions, logger: false })
  await server.register(app, { config: testConfig({ BUDGET_EVALUATION_INTERVAL_MS: 'off' }), db, queryGate: gate })
  await server.ready()
  t.teardown(() => server.close())
  return { server, gate }
}

const BUDGETS_QUERY = '{ budgets { name spent } }'

void eachEngine(t, async (t, engine) => {
  const { server, gate } = await buildWithGate(t, engine)
  const a = await tenantWithKey(server)
  const b = await tenantWithKey(server)
  for (const k of [a.key, b.key]) await putBudget(server, k, 'team', { amount: '100', period: 'month' })
  const get = (key: string, url: string) => server.inject({ method: 'GET', url, headers: bearer(key) })
  const gql = (key: string) => server.inject({ method: 'POST', url: '/graphql', headers: bearer(key), payload: { query: BUDGETS_QUERY } })

  t.test('budget reads of a tenant at its share wait, then get 429 / RATE_LIMITED; another tenant is served', async (t) => {
    const release = await gate.acquire(a.tenantId) // tenant A's only slot is busy
    try {
      for (const url of ['/v1/budgets', '/v1/budgets/team']) {
        const res = await get(a.key, url)
        t.equal(res.statusCode, 429, `${url} waits for A's slot`)
        t.ok(isProblem(res), `${url}: a problem document`)
        t.equal(res.headers['retry-after'], '1')
        t.equal((await get(b.key, url)).statusCode, 200, `${url}: tenant B is not held up`)
      }
      const codes = ((await gql(a.key)).json() as { errors?: { extensions?: { code?: string } }[] }).errors?.map((e) => e.extensions?.code)
      t.same(codes, ['RATE_LIMITED'], 'GraphQL budgets waits for the same slot')
      t.equal((await gql(b.key)).json().errors, undefined)
    } finally {
      release()
    }
    t.equal(gate.running(a.tenantId), 0, 'the refused reads took no slot')
  })

  t.test('once the slot is free the same reads are answered, and give it back', async (t) => {
    t.equal((await get(a.key, '/v1/budgets')).statusCode, 200)
    t.equal((await get(a.key, '/v1/budgets/team')).statusCode, 200)
    t.same((await gql(a.key)).json(), { data: { budgets: [{ name: 'team', spent: '0' }] } })
    t.equal(gate.running(a.tenantId), 0, 'no slot is left held')
  })
})
