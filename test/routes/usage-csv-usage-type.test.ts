import t from 'tap'
import { bearer, build, eachEngine, graphqlData, tenantWithKey } from '../helpers.js'

// The embeddings and moderations exports (GET /v1/organization/usage/{embeddings,moderations}, Accept:
// text/csv) wrote no usage type, and the CSV ingest read none: their file posted back to /v1/usage/buckets
// was stored as completions — beside the embeddings already stored, counted again under another type.
// The exports now end with a `usage_type` column, and the CSV ingest reads it (blank: completions).

const D1 = '2026-03-02T00:00:00Z'
const D2 = '2026-03-03T00:00:00Z'
const bucket = (usageType: string, model: string, inputTokens: number) => ({ start_time: D1, end_time: D2, model, usage_type: usageType, input_tokens: inputTokens, num_model_requests: 3 })

const GQL = `{ usage(from: "${D1}", to: "${D2}", window: DAY, groupBy: [USAGE_TYPE, MODEL], first: 100) { rows { usageType model inputTokens requests } } }`
type Row = { usageType: string; model: string; inputTokens: number; requests: number }

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const usage = async (key: string): Promise<Row[]> =>
    (await graphqlData<{ usage: { rows: Row[] } }>(t, app, bearer(key), GQL)).usage.rows.sort((a, b) => a.usageType.localeCompare(b.usageType))
  const csvPost = (key: string, csv: string) => app.inject({ method: 'POST', url: '/v1/usage/buckets', headers: { ...bearer(key), 'content-type': 'text/csv' }, payload: csv })

  t.test('an embeddings or moderations export posted back stores the same usage, of the same type', async (t) => {
    const source = await tenantWithKey(app)
    const target = await tenantWithKey(app)
    const posted = await app.inject({
      method: 'POST',
      url: '/v1/usage/buckets',
      headers: bearer(source.key),
      payload: { buckets: [bucket('embeddings', 'text-embedding-3-small', 1_000), bucket('moderations', 'omni-moderation-latest', 70)] },
    })
    t.equal(posted.statusCode, 200, posted.body)
    for (const path of ['embeddings', 'moderations']) {
      const exported = await app.inject({
        method: 'GET',
        url: `/v1/organization/usage/${path}?start_time=${D1}&end_time=${D2}&bucket_width=1d&group_by=model`,
        headers: { ...bearer(source.key), accept: 'text/csv' },
      })
      t.equal(exported.statusCode, 200, exported.body)
      const [header, first] = exported.body.trimEnd().split('\n')
      // usage_type, then the row's provider and account (usage-csv-export-provider-account.test.ts).
      t.equal(header!.split(',').at(-3), 'usage_type', `${path}: the column before provider and account`)
      t.equal(first!.split(',').at(-3), path)
      const back = await csvPost(target.key, exported.body)
      t.equal(back.statusCode, 200, back.body)
      t.match(back.json(), { received: 1, created: 1 })
    }
    t.same(await usage(target.key), await usage(source.key))
    t.same((await usage(target.key)).map((r) => r.usageType), ['embeddings', 'moderations'], 'no completions')
  })

  t.test('a usage_type cell: blank is completions, a value no usage type has is a 400 naming it', async (t) => {
    const { key } = await tenantWithKey(app)
    const bad = await csvPost(key, 'start_time,end_time,model,input_tokens,usage_type\n1772409600,1772496000,m,5,\n1772409600,1772496000,e,5,embedding\n')
    t.equal(bad.statusCode, 400)
    t.match(bad.json().errors, [{ line: 3, path: 'usage_type', message: /must be one of completions, embeddings, moderations/ }])
    t.same(await usage(key), [], 'nothing written')
    const good = await csvPost(key, 'start_time,end_time,model,input_tokens,usage_type\n1772409600,1772496000,m,5,\n1772409600,1772496000,e,5,embeddings\n')
    t.equal(good.statusCode, 200, good.body)
    t.same((await usage(key)).map((r) => [r.usageType, r.model]), [['completions', 'm'], ['embeddings', 'e']])
  })
})
