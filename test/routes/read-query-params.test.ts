import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

// tokenledger's own read routes — reconciliation, a card's rates, a budget's status and its alerts — refuse
// a query parameter they do not know, over a real socket: `GET /v1/reconciliation?…&project_id=p1` (for
// `project_ids=`) answered 200 with every project's usage against every project's bill, a wrong answer that
// looks right. No OpenAI client sends to these routes; the OpenAI mirrors stay lenient (docs/rest-mirrors.md).

const RANGE = 'from=2025-10-01T00:00:00Z&to=2025-10-08T00:00:00Z'

interface Problem {
  errors?: { path: string; message: string }[]
}

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  const { key } = await tenantWithKey(app, ['ingest', 'read'])
  const send = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { ...bearer(key), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
    return { status: res.status, type: res.headers.get('content-type') ?? '', body: (await res.json()) as Problem & Record<string, unknown> }
  }
  const refused = (t: Test, res: Awaited<ReturnType<typeof send>>, unknown: string[]) => {
    t.equal(res.status, 400)
    t.match(res.type, /^application\/problem\+json/)
    t.same((res.body.errors ?? []).map((e) => e.path).sort(), unknown.map((u) => `querystring.${u}`).sort(), 'every unknown parameter named')
    for (const e of res.body.errors ?? []) t.match(e.message, /^is not a parameter of this route; its parameters are /)
    // A read wrote nothing to begin with: the detail said "nothing was written" of a GET.
    t.equal(res.body.detail, `${unknown.length} problem${unknown.length === 1 ? '' : 's'} in the query parameters`)
  }

  t.equal((await send('PUT', '/v1/budgets/team', { amount: '100', period: 'month', thresholds: [50] })).status, 201)

  await t.test('GET /v1/reconciliation', async (t) => {
    refused(t, await send('GET', `/v1/reconciliation?${RANGE}&project_id=p1`), ['project_id'])
    refused(t, await send('GET', `/v1/reconciliation?${RANGE}&groupBy=model&acount_ids=a`), ['groupBy', 'acount_ids'])
    const ok = await send('GET', `/v1/reconciliation?${RANGE}&project_ids=p1&group_by[]=provider&group_by[]=model&models=a,b`)
    t.equal(ok.status, 200, 'its own parameters, in every array form, still answer')
    t.equal(ok.body.object, 'page')
  })

  await t.test('GET /v1/rate-cards/{card}/rates', async (t) => {
    refused(t, await send('GET', '/v1/rate-cards/default/rates?modle=gpt-5'), ['modle'])
    t.equal((await send('GET', '/v1/rate-cards/default/rates?model=gpt-5&at=2025-10-01T00:00:00Z')).status, 200)
  })

  await t.test('GET /v1/budgets/{name} and its alerts', async (t) => {
    refused(t, await send('GET', '/v1/budgets/team?as_of=2025-10-01T00:00:00Z'), ['as_of'])
    refused(t, await send('GET', '/v1/budgets?at=2025-10-01T00:00:00Z&project_ids=p1'), ['project_ids'])
    refused(t, await send('GET', '/v1/budgets/team/alerts?limt=5'), ['limt'])
    t.equal((await send('GET', '/v1/budgets/team?at=2025-10-01T00:00:00Z')).status, 200)
    t.equal((await send('GET', '/v1/budgets/team/alerts?limit=5')).status, 200)
  })

  await t.test('the OpenAI mirrors still ignore what they do not know', async (t) => {
    const res = await send('GET', '/v1/organization/usage/completions?start_time=1759276800&project_id=p1')
    t.equal(res.status, 200)
    t.equal(res.body.object, 'page')
  })
})
