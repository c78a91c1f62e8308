import t from 'tap'
import { bearer, build, tenantWithKey } from './helpers.js'

t.test('probe', async (t) => {
  const app = await build(t, 'pglite', { BODY_LIMIT: '2000' })
  const { key } = await tenantWithKey(app, ['ingest', 'read'])
  const h = bearer(key)
  const show = (name: string, r: { statusCode: number; headers: Record<string, unknown>; body: string }) =>
    console.log(name, r.statusCode, r.headers['content-type'], r.headers['x-request-id'], r.body.slice(0, 300))
  show('malformed', await app.inject({ method: 'POST', url: '/graphql', headers: { ...h, 'content-type': 'application/json' }, payload: '{"query": ' }))
  show('missing query', await app.inject({ method: 'POST', url: '/graphql', headers: h, payload: {} }))
  show('batched', await app.inject({ method: 'POST', url: '/graphql', headers: h, payload: [{ query: '{ __typename }' }] }))
  show('oversize', await app.inject({ method: 'POST', url: '/graphql', headers: h, payload: { query: '{ __typename }', x: 'a'.repeat(5000) } }))
  show('GET mutation', await app.inject({ method: 'GET', url: '/graphql?query=' + encodeURIComponent('mutation { x }'), headers: h }))
  show('GET query', await app.inject({ method: 'GET', url: '/graphql?query=' + encodeURIComponent('{ __typename }'), headers: h }))
  show('validation', await app.inject({ method: 'POST', url: '/graphql', headers: h, payload: { query: '{ nope }' } }))
  show('syntax', await app.inject({ method: 'POST', url: '/graphql', headers: h, payload: { query: '{ nope ' } }))
  show('nul var', await app.inject({ method: 'POST', url: '/graphql', headers: h, payload: { query: 'query($c: String) { usage(from: "2025-10-01T00:00:00Z", to: "2025-10-02T00:00:00Z", rateCard: $c) { totals { inputTokens } } }', variables: { c: 'a\u0000b' } } }))
  show('nul tz', await app.inject({ method: 'POST', url: '/graphql', headers: h, payload: { query: '{ usage(from: "2025-10-01T00:00:00Z", to: "2025-10-02T00:00:00Z", timeZone: "US/Pacific-New") { totals { inputTokens } } }' } }))
  show('nul query param', await app.inject({ method: 'GET', url: '/v1/organization/usage/completions?start_time=1759276800&rate_card=a%00b', headers: h }))
  show('nul rate card param', await app.inject({ method: 'GET', url: '/v1/rate-cards/a%00b/rates', headers: h }))
  try { show('nul header', await app.inject({ method: 'GET', url: '/v1/rate-cards/default/rates', headers: { authorization: 'Bearer test-admin-token-0123456789abcdef', 'x-tenant-id': 'a\u0000b' } })) } catch (e) { console.log('hdr throws', (e as Error).message) }
  show('rest 404', await app.inject({ method: 'GET', url: '/nope' }))
})
