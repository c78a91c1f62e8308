import t from 'tap'
import { admin, bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

// A chat webhook (Slack, Teams, Discord) carries its secret in the URL's path, and `GET /v1/budgets` showed
// the whole URL to any `read` key — the key a team hands to its dashboards. A reader without the `ingest`
// scope (the scope that may set the URL) now sees its origin only.

const SLACK = 'https://hooks.slack.com/services/T0000000/B0000000/s3cretWebhookToken'

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { tenantId, key: writer } = await tenantWithKey(app, ['ingest', 'read'])
  const reader = (
    await app.inject({ method: 'POST', url: `/v1/tenants/${tenantId}/api-keys`, headers: admin, payload: { name: 'dashboard', scopes: ['read'] } })
  ).json().key as string
  const put = await app.inject({ method: 'PUT', url: '/v1/budgets/team', headers: bearer(writer), payload: { amount: '100', period: 'month', thresholds: [80], webhook_url: SLACK } })
  t.equal(put.statusCode, 201, put.body)
  t.equal(put.json().webhook_url, SLACK, 'whoever sets it sees it')
  t.equal((await app.inject({ method: 'PUT', url: '/v1/budgets/bare', headers: bearer(writer), payload: { amount: '1', period: 'day', webhook_url: 'https://hooks.example.com' } })).statusCode, 201)
  t.equal((await app.inject({ method: 'PUT', url: '/v1/budgets/none', headers: bearer(writer), payload: { amount: '1', period: 'day' } })).statusCode, 201)

  const urls = async (headers: Record<string, string>) => {
    const one = await app.inject({ method: 'GET', url: '/v1/budgets/team', headers })
    const all = await app.inject({ method: 'GET', url: '/v1/budgets', headers })
    t.equal(one.statusCode, 200)
    t.equal(all.statusCode, 200)
    return { one: one.json().webhook_url as string, all: Object.fromEntries((all.json().data as { name: string; webhook_url: string | null }[]).map((b) => [b.name, b.webhook_url])), bodies: one.body + all.body }
  }

  t.test('a read-only key sees the origin only', async (t) => {
    const seen = await urls(bearer(reader))
    t.equal(seen.one, 'https://hooks.slack.com/…')
    t.same(seen.all, { bare: 'https://hooks.example.com/', none: null, team: 'https://hooks.slack.com/…' })
    t.notMatch(seen.bodies, /s3cretWebhookToken|T0000000/, 'no part of the path anywhere')
  })

  t.test('an ingest key and the admin token see it whole', async (t) => {
    t.equal((await urls(bearer(writer))).one, SLACK)
    t.equal((await urls({ ...admin, 'x-tenant-id': tenantId })).one, SLACK)
  })
})
