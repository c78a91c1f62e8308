import { createRequire } from 'node:module'
import t from 'tap'
import { admin, bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

interface Sample {
  value?: string
  labels?: Record<string, string>
  count?: string
  buckets?: Record<string, string>
}
interface Family {
  name: string
  type: string
  metrics: Sample[]
}
// A real Prometheus text-format parser (a port of the Python client's), not regexes; it ships no types.
const parseText = createRequire(import.meta.url)('parse-prometheus-text-format') as (text: string) => Family[]
/**
 * The parser folds a labelled histogram into one unlabelled sample, so each histogram's `# TYPE` line
 * is dropped first: its _bucket/_count/_sum series then parse as untyped families with their labels.
 * The types are checked on the raw text instead.
 */
const parse = (text: string) => parseText(text.replace(/^# TYPE \S+ histogram\n/gm, ''))

// Untyped series arrive as one family per run of same-named lines, so a name may appear several times.
const family = (families: Family[], name: string): Family | undefined => {
  const found = families.filter((f) => f.name === name)
  return found.length ? { name, type: found[0]!.type, metrics: found.flatMap((f) => f.metrics) } : undefined
}
const sample = (f: Family | undefined, labels: Record<string, string>) =>
  f?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))

const buckets = [
  { start_time: '2026-03-01T00:00:00Z', end_time: '2026-03-01T01:00:00Z', model: 'gpt-4o', input_tokens: 10, output_tokens: 2 },
  { start_time: '2026-03-01T01:00:00Z', end_time: '2026-03-01T02:00:00Z', model: 'gpt-4o', input_tokens: 5, output_tokens: 1 },
]

void eachEngine(t, async (t, engine) => {
  await t.test('after ingest and query traffic, /metrics parses and the series moved, without tenant ids', async (t) => {
    const app = await build(t, engine)
    const { key, tenantId } = await tenantWithKey(app)
    t.equal((await app.inject({ method: 'POST', url: '/v1/usage/buckets', headers: bearer(key), payload: { buckets } })).statusCode, 200)
    const events = [{ id: 'ev-1', timestamp: '2026-03-01T10:15:00Z', model: 'gpt-4o', input_tokens: 3, output_tokens: 1 }]
    t.equal((await app.inject({ method: 'POST', url: '/v1/usage/events', headers: bearer(key), payload: { events } })).statusCode, 200)
    const gql = await app.inject({
      method: 'POST',
      url: '/graphql',
      headers: bearer(key),
      payload: { query: '{ usage(from: "2026-03-01T00:00:00Z", to: "2026-03-02T00:00:00Z") { totals { inputTokens } } }' },
    })
    t.equal(gql.json().errors, undefined)
    await app.inject({ method: 'GET', url: `/v1/no-such-route/${tenantId}` })

    const res = await app.inject({ method: 'GET', url: '/metrics' })
    t.equal(res.statusCode, 200)
    t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/)
    const families = parse(res.body)

    t.equal(sample(family(families, 'tokenledger_ingested_rows_total'), { source: 'api' })?.value, '2')
    t.equal(sample(family(families, 'tokenledger_events_total'), { status: 'created' })?.value, '1')
    t.match(res.body, /^# TYPE tokenledger_http_request_duration_seconds histogram$/m)
    t.match(res.body, /^# TYPE tokenledger_query_duration_seconds histogram$/m)
    const http = family(families, 'tokenledger_http_request_duration_seconds_count')
    t.equal(sample(http, { route: '/v1/usage/buckets', method: 'POST', status_code: '200' })?.value, '1', 'by route pattern')
    t.equal(sample(http, { route: 'unmatched', status_code: '404' })?.value, '1', 'unknown URLs share one label value')
    t.equal(sample(family(families, 'tokenledger_query_duration_seconds_count'), { surface: 'graphql' })?.value, '1')
    for (const name of ['tokenledger_sync_runs_total', 'tokenledger_sync_failures_total', 'tokenledger_alert_deliveries_total'])
      t.ok(family(families, name), `${name} is registered`)
    t.equal(sample(family(families, 'tokenledger_db_ready'), {})?.value, '1')
    t.ok(sample(family(families, 'tokenledger_db_pool_max'), { engine }), 'database pool size')
    t.ok(family(families, 'tokenledger_process_cpu_seconds_total'), 'process metrics')
    t.notMatch(res.body, tenantId, 'no tenant id anywhere, URLs included')
    t.notMatch(res.body, key.slice(-12), 'no key')
  })

  await t.test('every REST usage and cost query is measured: OpenAI\'s paths, their aliases and reconciliation', async (t) => {
    const app = await build(t, engine)
    const { key } = await tenantWithKey(app)
    const range = 'start_time=1772323200&end_time=1772409600'
    const queries = [
      `/v1/organization/usage/completions?${range}`,
      `/v1/usage?${range}`,
      `/v1/organization/costs?${range}`,
      `/v1/costs?${range}`,
      '/v1/reconciliation?from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z',
    ]
    for (const url of queries) t.equal((await app.inject({ method: 'GET', url, headers: bearer(key) })).statusCode, 200, url)
    // Not queries: a write under /v1/usage, and the rate cards.
    t.equal((await app.inject({ method: 'POST', url: '/v1/usage/buckets', headers: bearer(key), payload: { buckets } })).statusCode, 200)
    t.equal((await app.inject({ method: 'GET', url: '/v1/rate-cards', headers: bearer(key) })).statusCode, 200)
    const families = parse((await app.inject({ method: 'GET', url: '/metrics' })).body)
    t.equal(sample(family(families, 'tokenledger_query_duration_seconds_count'), { surface: 'rest' })?.value, String(queries.length))
  })

  await t.test('METRICS_TOKEN protects /metrics; METRICS=off removes it', async (t) => {
    const token = 'metrics-token-0123456789'
    const app = await build(t, engine, { METRICS_TOKEN: token })
    const denied = await app.inject({ method: 'GET', url: '/metrics' })
    t.equal(denied.statusCode, 401)
    t.match(denied.headers['content-type'], /^application\/problem\+json/)
    t.equal((await app.inject({ method: 'GET', url: '/metrics', headers: admin })).statusCode, 401, 'the admin token is not the metrics token')
    t.equal((await app.inject({ method: 'GET', url: '/metrics', headers: bearer(token) })).statusCode, 200)

    const off = await build(t, engine, { METRICS: 'off' })
    t.equal((await off.inject({ method: 'GET', url: '/metrics' })).statusCode, 404)
  })
})
