import t from 'tap'
import { postBuckets } from '../factories/buckets.js'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

// README: the API's `Accept: text/csv` exports "re-ingest to the same rows". The completions export had
// no provider or account column and summed every provider account into one row per result, so an
// Anthropic row posted back was stored as OpenAI's, and two OpenAI organizations became one. The token
// exports (completions, embeddings, moderations) now group by provider and account and write both;
// posting each file back to an empty tenant must give GraphQL `usage` the same rows, key by key.

const DAY = 86_400
const T0 = 1_759_276_800 // 2025-10-01

const bucket = (o: Record<string, unknown>) => ({ start_time: T0, end_time: T0 + DAY, project_id: 'proj_a', num_model_requests: 3, ...o })
const BUCKETS = [
  bucket({ provider: 'openai', account_id: 'org-a', model: 'gpt-5-mini-2025-08-07', input_tokens: 1000, output_tokens: 200 }),
  bucket({ provider: 'openai', account_id: 'org-b', model: 'gpt-5-mini-2025-08-07', input_tokens: 5000, output_tokens: 700 }),
  bucket({ provider: 'anthropic', account_id: 'org_ant', model: 'claude-sonnet-4-5-20250929', input_tokens: 4000, output_tokens: 900 }),
  bucket({ provider: 'openai', account_id: 'org-a', model: 'text-embedding-3-small', usage_type: 'embeddings', input_tokens: 111 }),
  bucket({ provider: 'openai', account_id: 'org-b', model: 'text-embedding-3-small', usage_type: 'embeddings', input_tokens: 222 }),
  bucket({ provider: 'openai', account_id: 'org-b', model: 'omni-moderation-latest', usage_type: 'moderations', input_tokens: 33 }),
]

const QUERY = `{ usage(from: "2025-10-01T00:00:00Z", to: "2025-10-02T00:00:00Z", window: DAY,
  groupBy: [PROVIDER, ACCOUNT, USAGE_TYPE, MODEL, PROJECT]) {
  rows { provider accountId usageType model projectId inputTokens outputTokens requests cost { total } } } }`

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const source = await tenantWithKey(app, ['ingest', 'read'])
  const copy = await tenantWithKey(app, ['ingest', 'read'])
  const stored = await postBuckets(app, source.key, { buckets: BUCKETS })
  t.equal(stored.statusCode, 200, stored.body)

  for (const endpoint of ['completions', 'embeddings', 'moderations']) {
    const csv = await app.inject({
      method: 'GET',
      url: `/v1/organization/usage/${endpoint}?start_time=${T0}&end_time=${T0 + DAY}&group_by=model&group_by=project_id`,
      headers: { ...bearer(source.key), accept: 'text/csv' },
    })
    t.equal(csv.statusCode, 200, csv.body)
    const header = csv.body.split('\n')[0]!.split(',')
    t.same(header.slice(-2), ['provider', 'account_id'], `${endpoint}: provider and account are columns`)
    const back = await app.inject({
      method: 'POST', url: '/v1/usage/buckets', headers: { ...bearer(copy.key), 'content-type': 'text/csv' }, payload: csv.body,
    })
    t.equal(back.statusCode, 200, `${endpoint}: ${back.body}`)
  }

  const usage = async (key: string) => {
    const res = await app.inject({ method: 'POST', url: '/graphql', headers: bearer(key), payload: { query: QUERY } })
    const rows = (res.json() as { data: { usage: { rows: Record<string, unknown>[] } } }).data.usage.rows
    return rows.map((r) => JSON.stringify(r)).sort()
  }
  const original = await usage(source.key)
  t.equal(original.length, BUCKETS.length)
  t.same(await usage(copy.key), original, 'the exports re-ingest to the same rows: providers and accounts kept apart')
})
