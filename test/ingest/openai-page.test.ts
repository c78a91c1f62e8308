import t from 'tap'
import { parseCanonical } from '../../src/ingest/canonical.js'
import { isOpenAIPageBody, parseOpenAIPages } from '../../src/ingest/openai-page.js'

const bucket = (start: number, results: object[]) => ({ object: 'bucket', start_time: start, end_time: start + 86400, results })

t.test('a page is any object with a data array, or an array of them', async (t) => {
  t.ok(isOpenAIPageBody({ data: [] }))
  t.ok(isOpenAIPageBody([{ object: 'page', data: [] }]))
  t.notOk(isOpenAIPageBody({ buckets: [] }))
  t.notOk(isOpenAIPageBody([]))
})

t.test('indexes count results across pages in page order; empty buckets add none', async (t) => {
  const pages = [
    { data: [bucket(0, [{ model: 'a', input_tokens: 1 }, { model: 'b', input_tokens: 2 }]), bucket(86400, [])] },
    { data: [bucket(172800, [{ model: 'c', input_tokens: -1 }])] },
  ]
  const r = await parseOpenAIPages(pages, {})
  t.equal(r.received, 3)
  t.same(r.rows.map((x) => [x.index, x.bucket.model]), [[0, 'a'], [1, 'b']])
  t.match(r.problems.items, [{ index: 2, path: 'input_tokens' }])
})

t.test('embeddings and moderations are input-only tokens; other usage types are resources; an unknown object is refused', async (t) => {
  const r = await parseOpenAIPages(
    {
      data: [
        bucket(0, [
          { object: 'organization.usage.embeddings.result', input_tokens: 16, num_model_requests: 2, model: null },
          { object: 'organization.usage.moderations.result', input_tokens: 4, model: 'omni-moderation-latest' },
          // Fields not grouped by may be null or, in hand-made pages, absent: neither is an attribute.
          { object: 'organization.usage.images.result', images: 2 },
          { object: 'organization.usage.images.result', images: 3, source: 'image.generation', size: null },
          { object: 'organization.usage.unknown.result', things: 1 },
        ]),
      ],
    },
    {},
  )
  t.match(r.rows.map((x) => x.bucket.classes), [{ inputTokens: 16, inText: 16, outputTokens: 0, requests: 2 }, { inputTokens: 4, requests: null }])
  t.match(
    r.resources.map((x) => [x.index, x.resource.resource, x.resource.quantity, x.resource.attributes]),
    [
      [2, 'images', '2', {}],
      [3, 'images', '3', { source: 'image.generation' }],
    ],
  )
  t.match(r.problems.items, [{ index: 4, path: 'object', message: /unknown usage result object "organization.usage.unknown.result"/ }])
})

t.test('query defaults fill provider/account; a result’s own value wins; model may be null', async (t) => {
  const r = await parseOpenAIPages({ data: [bucket(0, [{ model: null, input_tokens: 1 }, { model: 'm', account_id: 'own', input_tokens: 1 }])] }, { provider: 'azure', accountId: 'org' })
  t.same(r.rows.map((x) => [x.bucket.provider, x.bucket.accountId, x.bucket.model]), [['azure', 'org', null], ['azure', 'own', 'm']])
})

t.test('the same bucket in two pages names both indexes', async (t) => {
  const page = { data: [bucket(0, [{ model: 'a', input_tokens: 1 }])] }
  const r = await parseOpenAIPages([page, page], {})
  t.match(r.problems.items, [{ index: 1, path: '1.data.0', message: /index 0.*index 1/ }])
})

t.test('canonical buckets: model is required, unknown fields are errors, provider defaults to openai', async (t) => {
  const r = await parseCanonical({
    buckets: [
      { start_time: 0, end_time: 60, model: 'm', input_tokens: 1 },
      { start_time: 0, end_time: 60, input_tokens: 1, inputs: 3 },
    ],
  })
  t.equal(r.rows[0]!.bucket.provider, 'openai')
  t.same(r.problems.items.map((p) => [p.index, p.path]).sort(), [[1, 'inputs'], [1, 'model']])
  t.match((await parseCanonical({ buckets: 'no' })).problems.items, [{ path: 'buckets' }])
})
