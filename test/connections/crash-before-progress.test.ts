import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import type { DbClient, Engine } from '../../src/db/client.js'
import { eachEngine } from '../helpers.js'
import { ANTHROPIC_KEY, buildWith, createConnection, ledgerTotals, OPENAI_KEY, startStub, syncAndWait, tenant, type ConnectionState } from './support/harness.js'
import type { StubProvider } from './support/stub-provider.js'

/**
 * A run stores a page (one ingest transaction) and only then records its progress (`synced_until`, the
 * run's counts) in a second statement. A process that dies between the two leaves the page stored and
 * `synced_until` before it: the next run fetches that page again. Here the progress statement fails at
 * exactly that point — a trigger on `connections` fails it as a statement timeout does, which ends the
 * run at once — once for each endpoint of the connection, on a page that stored rows. The runs after it
 * must leave usage buckets, resources, billed costs and what the API reports exactly as a connection
 * that never failed, and every run's `last_run.rows` must count the rows it stored, each once.
 * They do (ingest replaces by natural key): this guards that, should a kind of row ever be stored additively.
 */
const HOUR = 3_600_000

/** Each endpoint: the table its rows go to, and which of them are its (as `received` counts them). */
const STORED: Record<string, { table: string; where: string }> = {
  completions: { table: 'usage_buckets', where: `provider = 'openai' and usage_type = 'completions'` },
  images: { table: 'usage_resources', where: `provider = 'openai' and resource = 'images'` },
  costs: { table: 'billed_costs', where: `provider = 'openai'` },
  usage_report_messages: { table: 'usage_buckets', where: `provider = 'anthropic'` },
  cost_report: { table: 'billed_costs', where: `provider = 'anthropic'` },
}
const ENDPOINT_OF_PATH = (path: string) => (path.endsWith('/messages') ? 'usage_report_messages' : path.split('/').pop()!)

async function storedRows(db: DbClient, tenantId: string, endpoint: string, fromMs = 0): Promise<number> {
  const { table, where } = STORED[endpoint]!
  const [r] = await db.query<{ n: number }>(`select count(*)::int as n from ${table} where tenant_id = $1 and ${where} and start_time >= $2`, [tenantId, new Date(fromMs)])
  return r!.n
}

/** Every stored row without its id, tenant and write time: equal lists mean equal ledgers, shapes included. */
async function ledgerRows(db: DbClient, tenantId: string) {
  const rows = await db.query<{ row: string }>(
    `select (to_jsonb(x) - 'id' - 'tenant_id' - 'updated_at' - 'created_at')::text as row from usage_buckets x where tenant_id = $1
     union all select (to_jsonb(x) - 'id' - 'tenant_id' - 'updated_at' - 'created_at')::text from usage_resources x where tenant_id = $1
     union all select (to_jsonb(x) - 'id' - 'tenant_id' - 'updated_at' - 'created_at')::text from billed_costs x where tenant_id = $1 order by 1`,
    [tenantId],
  )
  return rows.map((r) => r.row)
}

/** What the API reports for the whole range: usage by provider and resource, and billed against computed costs. */
async function reported(app: FastifyInstance, headers: Record<string, string>, from: string, to: string) {
  const query = `{ usage(from: "${from}", to: "${to}", window: TOTAL, groupBy: [PROVIDER, RESOURCE]) {
      rows { provider resource quantity requests inputTokens outputTokens cachedInputTokens cacheWriteTokens cost { total complete } }
      totals { requests inputTokens outputTokens cost { total resources } } }
    reconciliation(from: "${from}", to: "${to}", window: TOTAL, groupBy: [PROVIDER]) { rows { provider billed computed status } totals { billed computed } } }`
  const res = await app.inject({ method: 'POST', url: '/graphql', headers, payload: { query } })
  const body = res.json() as { data: unknown; errors?: unknown }
  if (body.errors !== undefined) throw new Error(JSON.stringify(body.errors))
  return body.data
}

/** The progress statement that would move `endpoint`'s synced_until of the tenant's connection to `after` or past it fails. */
async function installCrash(db: DbClient) {
  await db.query(`create table crash_plan (tenant_id text not null, endpoint text not null, after text not null)`)
  await db.query(`create function crash_before_progress() returns trigger language plpgsql as $$
    declare p record;
    begin
      for p in select * from crash_plan where tenant_id = new.tenant_id loop
        if coalesce(new.synced_until ->> p.endpoint, '') collate "C" >= p.after
           and coalesce(old.synced_until ->> p.endpoint, '') collate "C" < p.after then
          raise exception 'injected: the instance died before recording the progress of a stored page' using errcode = '57014';
        end if;
      end loop;
      return new;
    end $$`)
  await db.query('create trigger crash_before_progress before update of synced_until on connections for each row execute function crash_before_progress()')
  return async (tenantId: string, endpoint: string | undefined, afterMs = 0) => {
    await db.query('delete from crash_plan')
    if (endpoint) await db.query('insert into crash_plan values ($1, $2, $3)', [tenantId, endpoint, new Date(afterMs).toISOString()])
  }
}

async function scenario(t: Test, engine: Engine, provider: 'openai' | 'anthropic', endpoints: string[]) {
  // Two buckets a page, so each window takes many pages (cost windows of days too).
  const stub: StubProvider = await startStub(t, 30, { pageBuckets: 2 })
  const app = await buildWith(t, engine)
  const crashAt = await installCrash(app.testDb)
  const startMs = stub.opts.dataStart - 24 * HOUR
  // lag_hours 5: a run after the crash starts before the page it re-fetches, with other page boundaries.
  const body = {
    name: 'c', provider, admin_key: provider === 'openai' ? OPENAI_KEY : ANTHROPIC_KEY, account_id: 'org-1', base_url: stub.url,
    start_date: new Date(startMs).toISOString(), lag_hours: 5, endpoints,
  }
  const never = await tenant(app)
  const crashed = await tenant(app)
  const neverConn = await createConnection(app, never.headers, body)
  const crashedConn = await createConnection(app, crashed.headers, body)

  const control = await syncAndWait(app, never.headers, neverConn.id)
  t.equal(control.last_run?.status, 'succeeded', `the never-failed connection's run succeeded (${control.last_run?.error ?? ''})`)

  /** One run of the crashed tenant's connection, and whether its counts are the rows it stored (each once) and the pages it fetched. */
  const run = async (what: string): Promise<ConnectionState> => {
    const mark = stub.requests.length
    const state = await syncAndWait(app, crashed.headers, crashedConn.id)
    const served = stub.requests.slice(mark)
    const starts = new Map<string, number>()
    for (const r of served) {
      const ep = ENDPOINT_OF_PATH(r.path)
      const s = provider === 'openai' ? Number(r.query.start_time) * 1000 : Date.parse(String(r.query.starting_at))
      starts.set(ep, Math.min(starts.get(ep) ?? Infinity, s))
    }
    let rows = 0
    for (const [ep, from] of starts) rows += await storedRows(app.testDb, crashed.tenantId, ep, from)
    t.equal(state.last_run?.rows, rows, `${what}: last_run.rows = the rows stored from the windows it pulled`)
    t.equal(state.last_run?.pages, served.length, `${what}: last_run.pages = the pages it fetched`)
    return state
  }

  // One crash per endpoint, in the order a run pulls them: each on the page that moves synced_until past
  // ten hours into the data, a page with rows (the bucket before it has usage).
  const crashMs = stub.opts.dataStart + 10 * HOUR
  for (const endpoint of endpoints) {
    await crashAt(crashed.tenantId, endpoint, crashMs)
    const state = await run(`crash in ${endpoint}`)
    t.equal(state.last_run?.status, 'failed', `the run ended at ${endpoint}'s progress`)
    t.match(state.last_run?.error, /database: unavailable or too slow/, 'as a dead database connection ends it')
    const until = state.synced_until[endpoint]
    t.ok(until === null || Date.parse(until!) < crashMs, `${endpoint}: synced_until stayed before the page (${String(until)})`)
    const beyond = await storedRows(app.testDb, crashed.tenantId, endpoint, until ? Date.parse(until) : 0)
    t.ok(beyond > 0, `${endpoint}: the page was stored past synced_until (${beyond} rows): the next run fetches it again`)
  }
  await crashAt(crashed.tenantId, undefined)
  const last = await run('the run after the crashes')
  t.equal(last.last_run?.status, 'succeeded', `the run after the crashes succeeded (${last.last_run?.error ?? ''})`)

  // The ledger: what the provider reports, exactly, and row for row what the connection that never failed stored.
  const want = stub.expected()
  const totals = await ledgerTotals(app.testDb, crashed.tenantId)
  t.same(totals, await ledgerTotals(app.testDb, never.tenantId), 'bucket and resource totals equal the never-failed connection’s')
  if (provider === 'openai') {
    t.equal(totals.buckets.find((b) => b.usage_type === 'completions')?.input, String(want.completions.input), 'completion input tokens exact, counted once')
    t.equal(totals.resources.find((r) => r.resource === 'images')?.quantity, String(want.images.quantity), 'images counted once')
  } else {
    t.equal(totals.buckets.find((b) => b.provider === 'anthropic')?.output, String(want.anthropic.output), 'output tokens exact, counted once')
    t.equal(totals.resources.find((r) => r.resource === 'web_search_calls')?.quantity, String(want.anthropic.webSearches), 'web searches counted once')
  }
  const costs = stub.expectedCosts(provider)
  t.equal(await storedRows(app.testDb, crashed.tenantId, provider === 'openai' ? 'costs' : 'cost_report'), costs.rows, 'one billed cost per reported row')
  const [billed] = await app.testDb.query<{ dollars: string }>('select sum(amount)::text as dollars from billed_costs where tenant_id = $1', [crashed.tenantId])
  t.ok(costs.dollars.eq(billed!.dollars), `billed dollars exact, counted once (${billed!.dollars} = ${costs.dollars.toString()})`)
  t.same(await ledgerRows(app.testDb, crashed.tenantId), await ledgerRows(app.testDb, never.tenantId), 'every stored row (values, shape, source) equals the never-failed connection’s')

  const from = new Date(startMs - 24 * HOUR).toISOString()
  const to = new Date(Math.ceil(Date.now() / HOUR) * HOUR + 24 * HOUR).toISOString()
  const seen = await reported(app, crashed.headers, from, to)
  t.same(seen, await reported(app, never.headers, from, to), 'usage and reconciliation through GraphQL equal the never-failed connection’s')
  const { usage, reconciliation } = seen as { usage: { totals: { outputTokens: string } }; reconciliation: { totals: { billed: string } } }
  t.ok(costs.dollars.eq(reconciliation.totals.billed), `reconciliation reports the billed dollars once (${reconciliation.totals.billed})`)
  t.equal(String(usage.totals.outputTokens), String(provider === 'openai' ? want.completions.output : want.anthropic.output), 'usage reports the output tokens once')
}

void t.test('an OpenAI run that died between storing a page and recording its progress double counts nothing', (t) =>
  eachEngine(t, (t, engine) => scenario(t, engine, 'openai', ['completions', 'images', 'costs'])),
)

void t.test('an Anthropic run that died between storing a page and recording its progress double counts nothing', (t) =>
  eachEngine(t, (t, engine) => scenario(t, engine, 'anthropic', ['usage_report_messages', 'cost_report'])),
)
