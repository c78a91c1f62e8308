import { Decimal } from 'decimal.js'
import t from 'tap'
import { eachEngine } from '../helpers.js'
import { ANTHROPIC_KEY, buildWith, createConnection, getState, ledgerSnapshot, ledgerTotals, OPENAI_KEY, startStub, syncAndWait, tenant } from './support/harness.js'

const HOUR = 3_600_000

async function billedTotals(db: import('../../src/db/client.js').DbClient, tenantId: string) {
  const [r] = await db.query<{ rows: number; dollars: string | null; accounts: string | null }>(
    `select count(*)::int as rows, sum(amount)::text as dollars, string_agg(distinct account_id, ',') as accounts from billed_costs where tenant_id = $1`,
    [tenantId],
  )
  return { rows: r?.rows ?? 0, dollars: r?.dollars ?? '0', accounts: r?.accounts ?? null }
}

void t.test('an OpenAI connection stores exactly what the provider reports, idempotently, and takes revisions', (t) =>
  eachEngine(t, async (t, engine) => {
    const stub = await startStub(t, 30)
    const app = await buildWith(t, engine)
    const { tenantId, headers } = await tenant(app)
    const conn = await createConnection(app, headers, {
      name: 'prod org',
      provider: 'openai',
      admin_key: OPENAI_KEY,
      account_id: 'org-1',
      base_url: stub.url,
      start_date: new Date(stub.opts.dataStart - 5 * HOUR).toISOString(),
    })

    const first = await syncAndWait(app, headers, conn.id)
    t.equal(first.last_run?.status, 'succeeded', `first run succeeded (${first.last_run?.error ?? ''})`)
    const want = stub.expected()
    const got = await ledgerTotals(app.testDb, tenantId)
    const completions = got.buckets.find((b) => b.usage_type === 'completions')
    t.equal(completions?.rows, want.completions.rows, 'one stored bucket per reported result')
    t.equal(completions?.input, String(want.completions.input), 'input tokens equal the provider’s exactly')
    t.equal(completions?.output, String(want.completions.output), 'output tokens equal')
    t.equal(completions?.requests, String(want.completions.requests), 'requests equal')
    t.equal(got.buckets.find((b) => b.usage_type === 'embeddings')?.input, String(want.embeddings.input), 'embeddings stored through the same ingest')
    t.equal(got.resources.find((r) => r.resource === 'images')?.quantity, String(want.images.quantity), 'images stored as resources')
    const billed = await billedTotals(app.testDb, tenantId)
    const wantCosts = stub.expectedCosts('openai')
    t.equal(billed.rows, wantCosts.rows, 'every billed cost row stored (billed costs, through ingestBilledCosts)')
    t.ok(new Decimal(billed.dollars).eq(wantCosts.dollars), `billed dollars exact (${billed.dollars} = ${wantCosts.dollars.toString()})`)
    t.equal(first.last_run?.rows, want.completions.rows + want.embeddings.rows + want.images.rows + wantCosts.rows, 'last_run.rows counts every row stored')
    t.ok((first.last_run?.pages ?? 0) > 11, 'several pages per window were followed')
    for (const [endpoint, until] of Object.entries(first.synced_until)) t.ok(until && Date.parse(until) <= Date.now(), `${endpoint} synced up to now`)

    // Every request: the admin key as a Bearer token, the largest limit, every group_by.
    const completionsCalls = stub.requests.filter((r) => r.path === '/v1/organization/usage/completions')
    t.ok(completionsCalls.every((r) => r.headers.authorization === `Bearer ${OPENAI_KEY}` && r.query.limit === '168'), 'Bearer auth and the 1h limit of 168')
    t.ok(completionsCalls.some((r) => typeof r.query.page === 'string'), 'next_page cursors were followed')
    const costCalls = stub.requests.filter((r) => r.path === '/v1/organization/costs')
    t.ok(costCalls.length > 0 && costCalls.every((r) => r.query.bucket_width === '1d' && r.query.limit === '180' && String(r.query.group_by) === 'project_id,line_item'), 'costs in days, limit 180, grouped by project and line item')
    t.equal(billed.accounts, 'org-1', 'billed costs stored under the connection’s account')
    t.equal(Number(new Date(costCalls[0]!.query.start_time as string as unknown as number * 1000)) % (24 * HOUR), 0, 'cost windows start on a UTC day')

    const before = await ledgerSnapshot(app.testDb, tenantId)
    const mark = stub.requests.length
    const second = await syncAndWait(app, headers, conn.id)
    t.equal(second.last_run?.status, 'succeeded')
    t.same(await ledgerSnapshot(app.testDb, tenantId), before, 'a second run changes nothing (same rows, same update times)')
    const secondStart = Math.min(...stub.requests.slice(mark).filter((r) => r.path.endsWith('/completions')).map((r) => Number(r.query.start_time) * 1000))
    const until = Date.parse(first.synced_until.completions!)
    const lagStart = until - 48 * HOUR - (until % HOUR)
    t.equal(secondStart, Math.max(lagStart, stub.opts.dataStart - 5 * HOUR), 'the second run re-pulls lag_hours (48) before synced_until on the hour grid, never before start_date')

    // The provider revises one recent bucket: the next run replaces it.
    // An hour with usage (every fifth UTC hour is empty: revising one would prove nothing).
    let revised = stub.opts.dataEnd - 3 * HOUR
    while (stub.openaiResults('completions', revised).length === 0) revised -= HOUR
    stub.revise('completions', revised, 3)
    await syncAndWait(app, headers, conn.id)
    const after = await ledgerTotals(app.testDb, tenantId)
    const delta = stub.openaiResults('completions', revised).reduce((n, r) => n + BigInt(r.input_tokens as number), 0n) * 2n / 3n
    t.equal(after.buckets.find((b) => b.usage_type === 'completions')?.input, String(want.completions.input + delta), 'the revised bucket replaced the stored one')
    t.equal(after.buckets.find((b) => b.usage_type === 'completions')?.rows, want.completions.rows, 'no rows added')
  }),
)

void t.test('an Anthropic connection: x-api-key and anthropic-version, usage_report and cost_report, exact totals', (t) =>
  eachEngine(t, async (t, engine) => {
    const stub = await startStub(t, 20)
    const app = await buildWith(t, engine)
    const { tenantId, headers } = await tenant(app)
    const conn = await createConnection(app, headers, {
      name: 'claude',
      provider: 'anthropic',
      admin_key: ANTHROPIC_KEY,
      account_id: 'anthropic-org',
      base_url: stub.url,
      start_date: new Date(stub.opts.dataStart).toISOString().slice(0, 10),
    })
    const state = await syncAndWait(app, headers, conn.id)
    t.equal(state.last_run?.status, 'succeeded', `run succeeded (${state.last_run?.error ?? ''})`)
    const want = stub.expected().anthropic
    const got = await ledgerTotals(app.testDb, tenantId)
    const b = got.buckets.find((x) => x.provider === 'anthropic')
    t.equal(b?.rows, want.rows, 'one bucket per reported result (a null workspace is a value)')
    t.equal(b?.output, String(want.output), 'output tokens exact')
    t.equal(b?.in_text, String(want.uncached), 'uncached input → uncached text input, exact')
    t.equal(b?.requests, null, 'Anthropic reports no request count: null, never 0')
    const searches = got.resources.find((r) => r.resource === 'web_search_calls')
    t.equal(searches?.quantity ?? '0', String(want.webSearches), 'web searches stored as a resource')
    const calls = stub.requests.filter((r) => r.path.startsWith('/v1/organizations/'))
    t.ok(calls.every((r) => r.headers['x-api-key'] === ANTHROPIC_KEY && r.headers['anthropic-version'] === '2023-06-01' && r.headers.authorization === undefined), 'x-api-key + anthropic-version, no Bearer')
    const cost = calls.filter((r) => r.path.endsWith('/cost_report'))
    t.ok(cost.length > 0 && cost.every((r) => String(r.query['group_by[]']) === 'workspace_id,description' && r.query.bucket_width === '1d' && r.query.limit === '31'), 'cost_report grouped by workspace and description, in days')
    const billed = await billedTotals(app.testDb, tenantId)
    const wantCosts = stub.expectedCosts('anthropic')
    t.equal(billed.rows, wantCosts.rows, 'every cost_report row stored as a billed cost')
    t.ok(new Decimal(billed.dollars).eq(wantCosts.dollars), `cents → dollars exactly (${billed.dollars} = ${wantCosts.dollars.toString()})`)
    t.ok(calls.filter((r) => r.path.endsWith('/messages')).every((r) => /Z$/.test(String(r.query.starting_at))), 'RFC 3339 windows')
  }),
)

void t.test('a wrong admin key fails the run with a clear error that never repeats the key; the connection stays', (t) =>
  eachEngine(t, async (t, engine) => {
    const stub = await startStub(t, 3)
    const app = await buildWith(t, engine)
    const { headers } = await tenant(app)
    const wrongKey = 'sk-admin-WRONG-key-that-must-not-leak-1234'
    const conn = await createConnection(app, headers, { name: 'bad', provider: 'openai', admin_key: wrongKey, base_url: stub.url, start_date: new Date(stub.opts.dataStart).toISOString() })
    const state = await syncAndWait(app, headers, conn.id)
    t.equal(state.last_run?.status, 'failed')
    t.match(state.last_run?.error, /401 Unauthorized: Incorrect API key provided/, 'the error says the provider refused the key')
    t.notMatch(JSON.stringify(state), wrongKey, 'the key appears nowhere in the state, although the provider echoed it')
    t.equal(stub.requests.length, 1, 'a refused key is not retried')
    const still = await getState(app, headers, conn.id)
    t.equal(still.id, conn.id, 'the connection is kept')
    t.same(Object.values(still.synced_until).filter((v) => v !== null), [], 'nothing marked synced')
  }),
)
