import t from 'tap'
import { bearer, build, eachEngine, isProblem, tenantWithKey } from '../helpers.js'

// Resource attributes are stored as jsonb, which holds neither NUL nor a lone UTF-16 surrogate
// (`"\ud800"`): such a key or value in a canonical resource or an OpenAI page result reached the
// database and failed the request with a 500. It is a bad row, named like any other (400, nothing written).

const T0 = 1772323200
const BAD = { 'NUL in a value': { size: 'a\u0000b' }, 'NUL in a key': { 'si\u0000ze': '1024x1024' }, 'a lone surrogate in a value': { size: 'x\ud800' }, 'a lone surrogate in a key': { '\udc00': 'x' } }

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key, tenantId } = await tenantWithKey(app, ['ingest'])
  const post = (payload: unknown) => app.inject({ method: 'POST', url: '/v1/usage/buckets', headers: { ...bearer(key), 'content-type': 'application/json' }, payload: JSON.stringify(payload) })
  const stored = async () => (await app.testDb.query<{ n: number }>('select count(*)::int8 as n from usage_resources where tenant_id = $1', [tenantId]))[0]!.n

  for (const [name, attributes] of Object.entries(BAD)) {
    t.test(`${name} of a canonical resource is a 400 naming the row`, async (t) => {
      const ok = { start_time: T0, end_time: T0 + 3600, resource: 'images', quantity: 1, attributes: { size: '256x256' } }
      const res = await post({ resources: [ok, { ...ok, attributes }] })
      t.equal(res.statusCode, 400, res.body)
      t.ok(isProblem(res))
      t.match(res.json(), { errors: [{ index: 1, path: 'resources.attributes' }] })
      t.equal(await stored(), 0, 'nothing written')
    })
  }

  t.test('NUL or a lone surrogate in an OpenAI page result attribute is a 400 naming the result', async (t) => {
    for (const size of ['a\u0000b', 'x\ud800']) {
      const res = await post({
        object: 'page',
        data: [{ start_time: T0, end_time: T0 + 3600, results: [{ object: 'organization.usage.images.result', images: 2, num_model_requests: 1, source: 'image.generation', size }] }],
      })
      t.equal(res.statusCode, 400, res.body)
      t.ok(isProblem(res))
      t.match(res.json(), { errors: [{ index: 0, path: 'source, size' }] })
    }
    t.equal(await stored(), 0, 'nothing written')
  })
})
