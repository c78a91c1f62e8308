import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

// A mirror's `next_page` is bound to the query it came from. The hash covered the parameters only, and
// the usage endpoints share most of them: completions' cursor was taken by embeddings, moderations and
// images (answering from the cursor's bucket at the cursor's pricing instant). The hash covers what the
// endpoint computes now; an alias of the same endpoint still takes it.

const DAY = 1_759_276_800 // 2025-10-01
const bucket = (day: number, usageType: string) => ({
  start_time: DAY + day * 86_400, end_time: DAY + day * 86_400 + 3600, model: usageType === 'completions' ? 'gpt-4o-mini' : 'text-embedding-3-small',
  project_id: 'p', num_model_requests: 1, input_tokens: 5, output_tokens: usageType === 'completions' ? 1 : 0, usage_type: usageType,
})
const query = `start_time=${DAY}&end_time=${DAY + 4 * 86_400}&limit=1`
const refused = /is not a next_page cursor of this query/

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key } = await tenantWithKey(app)
  const h = bearer(key)
  const buckets = [0, 1, 2].flatMap((d) => [bucket(d, 'completions'), bucket(d, 'embeddings'), bucket(d, 'moderations')])
  const posted = await app.inject({ method: 'POST', url: '/v1/usage/buckets', headers: h, payload: { buckets } })
  t.equal(posted.statusCode, 200, posted.body)
  const get = (path: string, page?: string) =>
    app.inject({ method: 'GET', url: `${path}?${query}${page ? `&page=${page}` : ''}`, headers: h })
  const nextOf = async (path: string) => {
    const res = await get(path)
    t.equal(res.statusCode, 200, res.body.slice(0, 200))
    const next = (res.json() as { next_page: string | null }).next_page
    t.type(next, 'string', `${path} has a next page`)
    return next!
  }
  const endpoints = ['completions', 'embeddings', 'moderations', 'images'].map((e) => `/v1/organization/usage/${e}`)

  t.test("one endpoint's cursor is refused by another", async (t) => {
    for (const from of endpoints.slice(0, 3)) {
      const page = await nextOf(from)
      for (const to of [...endpoints, '/v1/organization/costs'].filter((e) => e !== from)) {
        const res = await get(to, page)
        t.equal(res.statusCode, 400, `${from} → ${to}`)
        t.match(res.body, refused)
      }
    }
  })

  t.test('an endpoint takes its own cursor, and its alias takes it too', async (t) => {
    const page = await nextOf('/v1/organization/usage/completions')
    for (const path of ['/v1/organization/usage/completions', '/v1/usage']) {
      const res = await get(path, page)
      t.equal(res.statusCode, 200, res.body.slice(0, 200))
      t.equal((res.json() as { data: { start_time: number }[] }).data[0]!.start_time, DAY + 86_400, path)
    }
    const costs = await nextOf('/v1/organization/costs')
    t.equal((await get('/v1/costs', costs)).statusCode, 200)
  })

  t.test("images: one image source's cursor is refused by another, as one size's is by another", async (t) => {
    // Image sources share `sources` with usage sources and were taken out of the hashed query with them.
    const resources = ['image.edit', 'image.generation'].map((source) => ({
      start_time: DAY, end_time: DAY + 600, provider: 'openai', model: 'dall-e-2', resource: 'images', quantity: 1, attributes: { size: '256x256', source },
    }))
    t.equal((await app.inject({ method: 'POST', url: '/v1/usage/buckets', headers: h, payload: { resources } })).statusCode, 200)
    const images = '/v1/organization/usage/images'
    for (const [from, to] of [['sources=image.edit', 'sources=image.generation'], ['sizes=256x256', 'sizes=1024x1024']]) {
      const first = await app.inject({ method: 'GET', url: `${images}?${query}&${from}`, headers: h })
      const page = (first.json() as { next_page: string }).next_page
      const same = await app.inject({ method: 'GET', url: `${images}?${query}&${from}&page=${page}`, headers: h })
      t.equal(same.statusCode, 200, `${from} takes its own cursor`)
      const other = await app.inject({ method: 'GET', url: `${images}?${query}&${to}&page=${page}`, headers: h })
      t.equal(other.statusCode, 400, `${from} → ${to}`)
      t.match(other.body, refused)
    }
  })
})
