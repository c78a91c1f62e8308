import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { admin, bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

// The routes that write or delete by query parameters refuse a parameter they do not know, over a real
// socket: a misspelled filter (`acount_id=` for `account_id=`) deleted every account's buckets or costs in
// the range, and on an import filed the rows under no account. Each unknown parameter is its own problem
// (`querystring.<name>`), and nothing is written or deleted. The OpenAI mirrors stay lenient (docs/rest-mirrors.md).

const D0 = '2025-10-06T00:00:00Z'
const D1 = '2025-10-07T00:00:00Z'
const RANGE = 'start_time=2025-10-01T00:00:00Z&end_time=2025-11-01T00:00:00Z'

const bucket = (accountId: string) => ({ start_time: D0, end_time: D1, model: 'gpt-5', account_id: accountId, input_tokens: 10, output_tokens: 5 })
// The query's account is the default for pages and CSV (a {"buckets"} row names its own: beside one it is refused).
const usagePage = {
  object: 'page',
  data: [{ start_time: 1759708800, end_time: 1759795200, results: [{ object: 'organization.usage.completions.result', model: 'gpt-5', input_tokens: 10, output_tokens: 5, num_model_requests: 1 }] }],
}
const costsPage = {
  object: 'page',
  data: [{ start_time: 1759708800, end_time: 1759795200, results: [{ object: 'organization.costs.result', amount: { value: 1.5, currency: 'usd' }, line_item: 'gpt-5, input', project_id: null }] }],
}

interface Problem {
  status: number
  detail: string
  errors: { path: string; message: string }[]
}

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  const { tenantId, key } = await tenantWithKey(app, ['ingest', 'read'])
  const send = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { ...bearer(key), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
    return { status: res.status, type: res.headers.get('content-type') ?? '', body: (await res.json()) as Record<string, unknown> }
  }
  const accounts = async (table: 'usage_buckets' | 'billed_costs') =>
    (await app.testDb.query<{ account_id: string | null }>(`select account_id from ${table} where tenant_id = $1 order by account_id nulls first`, [tenantId])).map(
      (r) => r.account_id,
    )
  const seed = async (t: Test) => {
    await app.testDb.query('delete from usage_buckets where tenant_id = $1', [tenantId])
    await app.testDb.query('delete from billed_costs where tenant_id = $1', [tenantId])
    t.equal((await send('POST', '/v1/usage/buckets', { buckets: [bucket('org-a'), bucket('org-b')] })).status, 200)
    for (const account of ['org-a', 'org-b']) t.equal((await send('POST', `/v1/billing/costs?account_id=${account}`, costsPage)).status, 200)
  }
  const refused = (t: Test, res: Awaited<ReturnType<typeof send>>, unknown: string[], known: string) => {
    t.equal(res.status, 400)
    t.match(res.type, /^application\/problem\+json/)
    const body = res.body as unknown as Problem
    t.same(
      (body.errors ?? []).map((e) => e.path).sort(),
      unknown.map((u) => `querystring.${u}`).sort(),
      'every unknown parameter named, each on its own',
    )
    for (const e of body.errors ?? []) t.equal(e.message, `is not a parameter of this route; its parameters are ${known}`)
  }

  await t.test('DELETE /v1/usage/buckets with a misspelled filter deletes nothing', async (t) => {
    await seed(t)
    refused(t, await send('DELETE', `/v1/usage/buckets?${RANGE}&acount_id=org-a`), ['acount_id'], 'start_time, end_time, source, account_id, usage_type, resource')
    refused(t, await send('DELETE', `/v1/usage/buckets?${RANGE}&account_id=org-a&bogus=1&usage-type=x`), ['bogus', 'usage-type'], 'start_time, end_time, source, account_id, usage_type, resource')
    t.same(await accounts('usage_buckets'), ['org-a', 'org-b'], 'both accounts’ buckets are still there')
    const both = await send('DELETE', `/v1/usage/buckets?start_time=2025-10-01T00:00:00Z&end_time=2025-09-01T00:00:00Z&acount_id=org-a`)
    t.same(((both.body as unknown as Problem).errors ?? []).map((e) => e.path).sort(), ['querystring.acount_id', 'querystring.end_time'], 'listed beside the other problems')
  })

  await t.test('DELETE /v1/usage/buckets with its own parameters still deletes', async (t) => {
    await seed(t)
    const res = await send('DELETE', `/v1/usage/buckets?${RANGE}&account_id=org-a&source=api&usage_type=completions`)
    t.equal(res.status, 200)
    t.same(res.body, { deleted: 1 })
    t.same(await accounts('usage_buckets'), ['org-b'])
    t.same((await send('DELETE', `/v1/usage/buckets?${RANGE}`)).body, { deleted: 1 })
  })

  await t.test('DELETE /v1/billing/costs with a misspelled filter deletes nothing', async (t) => {
    await seed(t)
    refused(t, await send('DELETE', `/v1/billing/costs?${RANGE}&acount_id=org-a`), ['acount_id'], 'start_time, end_time, account_id')
    refused(t, await send('DELETE', `/v1/billing/costs?${RANGE}&account_ids=org-a&provider=openai`), ['account_ids', 'provider'], 'start_time, end_time, account_id')
    t.same(await accounts('billed_costs'), ['org-a', 'org-b'], 'both accounts’ costs are still there')
  })

  await t.test('DELETE /v1/billing/costs with its own parameters still deletes', async (t) => {
    await seed(t)
    t.same((await send('DELETE', `/v1/billing/costs?${RANGE}&account_id=org-a`)).body, { deleted: 1 })
    t.same(await accounts('billed_costs'), ['org-b'])
    t.same((await send('DELETE', `/v1/billing/costs?${RANGE}`)).body, { deleted: 1 })
  })

  await t.test('POST /v1/usage/buckets with a misspelled default stores nothing', async (t) => {
    await seed(t)
    refused(t, await send('POST', '/v1/usage/buckets?acount_id=org-c', usagePage), ['acount_id'], 'provider, account_id, group_by')
    t.same(await accounts('usage_buckets'), ['org-a', 'org-b'], 'no bucket filed under no account')
    const res = await send('POST', '/v1/usage/buckets?account_id=org-c&provider=openai&group_by[]=model', usagePage)
    t.equal(res.status, 200, 'its own parameters, group_by in the [] form too')
    t.same(await accounts('usage_buckets'), ['org-a', 'org-b', 'org-c'])
  })

  await t.test('POST /v1/usage/buckets refuses a default beside canonical rows, which name their own', async (t) => {
    await seed(t)
    const noAccount = { start_time: D0, end_time: D1, model: 'gpt-5', input_tokens: 10, output_tokens: 5 }
    const res = await send('POST', '/v1/usage/buckets?account_id=org-c&provider=anthropic', { buckets: [noAccount] })
    t.equal(res.status, 400)
    t.match(res.type, /^application\/problem\+json/)
    const problem = res.body as unknown as Problem
    t.same(problem.errors.map((e) => e.path).sort(), ['querystring.account_id', 'querystring.provider'], 'each ignored default named')
    t.match(problem.errors.find((e) => e.path === 'querystring.account_id')!.message, /names its own account_id/)
    t.same(await accounts('usage_buckets'), ['org-a', 'org-b'], 'nothing filed under no account')
    t.equal((await send('POST', '/v1/usage/buckets', { buckets: [bucket('org-c')] })).status, 200, 'the account named in the row')
    t.same(await accounts('usage_buckets'), ['org-a', 'org-b', 'org-c'])
  })

  await t.test('POST /v1/billing/costs with a misspelled default stores nothing', async (t) => {
    await seed(t)
    refused(t, await send('POST', '/v1/billing/costs?acount_id=org-c', costsPage), ['acount_id'], 'provider, account_id, group_by')
    t.same(await accounts('billed_costs'), ['org-a', 'org-b'])
    t.equal((await send('POST', '/v1/billing/costs?account_id=org-c&group_by=line_item', costsPage)).status, 200)
    t.same(await accounts('billed_costs'), ['org-a', 'org-b', 'org-c'])
  })

  await t.test('the read routes still ignore unknown parameters', async (t) => {
    await seed(t)
    const res = await send('GET', '/v1/organization/usage/completions?start_time=1759708800&acount_id=org-a')
    t.equal(res.status, 200)
    t.equal((res.body.data as { results: unknown[] }[])[0]!.results.length, 1, 'answered unfiltered, as documented')
  })

  await t.test('a strict body names each unknown field at its own path', async (t) => {
    const res = await fetch(`${base}/v1/rate-cards/strict-body`, {
      method: 'PUT',
      headers: { ...admin, 'content-type': 'application/json' },
      body: JSON.stringify({ description: 'd', currency: 'USD', bogus: 1, zz: 2 }),
    })
    t.equal(res.status, 400)
    t.same(((await res.json()) as Problem).errors, [
      { path: 'body.bogus', message: 'unrecognized key "bogus"' },
      { path: 'body.zz', message: 'unrecognized key "zz"' },
    ])
  })
})
