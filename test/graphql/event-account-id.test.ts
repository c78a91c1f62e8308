import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

/**
 * An event's account (the provider organization it was sent for) is one of its dimensions: `usage` groups
 * by ACCOUNT and `events(filter: { accountIds })` selects by it, so the events listing names it — two
 * events of one model from two organizations were told apart by nothing on their rows.
 */

const base = { timestamp: '2026-03-01T10:15:00Z', model: 'gpt-4o-mini', input_tokens: 100, output_tokens: 10 }
const EVENTS = [
  { ...base, id: 'a', account_id: 'org-a' },
  { ...base, id: 'b', account_id: 'org-b' },
  { ...base, id: 'none' },
]
const query = (filter = '') => `{ events(from: "2026-03-01T00:00:00Z", to: "2026-03-02T00:00:00Z", orderBy: TIME_ASC${filter}) { rows { id accountId } } }`

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key } = await tenantWithKey(app, ['ingest', 'read'])
  const h = bearer(key)
  const posted = await app.inject({ method: 'POST', url: '/v1/usage/events', headers: h, payload: { events: EVENTS } })
  t.equal(posted.statusCode, 200, posted.body)

  const rows = async (filter?: string) => {
    const res = await app.inject({ method: 'POST', url: '/graphql', headers: h, payload: { query: query(filter) } })
    const body = res.json() as { data?: { events: { rows: { id: string; accountId: string | null }[] } }; errors?: unknown }
    t.equal(body.errors, undefined, res.body)
    return (body.data?.events.rows ?? []).sort((x, y) => x.id.localeCompare(y.id))
  }
  t.same(await rows(), [
    { id: 'a', accountId: 'org-a' },
    { id: 'b', accountId: 'org-b' },
    { id: 'none', accountId: null },
  ], 'each event names the account it was sent for, null when none')
  t.same(await rows(', filter: { accountIds: ["org-b"] }'), [{ id: 'b', accountId: 'org-b' }], 'the filter and the field agree')
})
