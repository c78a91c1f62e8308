import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

// Results of a usage page that share a resource's natural key are summed before they are stored. The
// sum was taken with decimal.js's default precision of 20 significant digits, so a longer sum was
// rounded: 11,112 results of 2^53 − 1 images stored 100087998118681891980 instead of
// 100087998118681891992. Quantities are stored exactly (contract v2), sums included.

const T0 = 1772323200
const N = 11_112
const Q = Number.MAX_SAFE_INTEGER

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key, tenantId } = await tenantWithKey(app, ['ingest'])
  const result = { object: 'organization.usage.images.result', images: Q, source: 'image.generation', size: '1024x1024', model: 'gpt-image-1' }
  const page = { object: 'page', data: [{ object: 'bucket', start_time: T0, end_time: T0 + 86_400, results: Array.from({ length: N }, () => result) }] }
  const res = await app.inject({ method: 'POST', url: '/v1/usage/buckets', headers: bearer(key), payload: page })
  t.equal(res.statusCode, 200, res.body.slice(0, 500))
  t.match(res.json(), { received: N, created: 1 })
  const rows = await app.testDb.query<{ quantity: string }>('select quantity::text as quantity from usage_resources where tenant_id = $1', [tenantId])
  t.same(rows.map((r) => r.quantity), [(BigInt(N) * BigInt(Q)).toString()], 'the exact sum')
})
