import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { ADMIN_TOKEN, build, eachEngine, fixturePath, uniqueId } from '../helpers.js'
import { ensureBuilt, ROOT } from '../setup/compiled.js'
import { runBuiltCli as cli } from './run-cli.js'

const CSV = 'openai/completions_usage_2025-10-05_2025-10-12.sample.csv'
const PAGE = 'openai/openai_usage_completions_example.json'
const COSTS_CSV = 'openai/openai_costs_export_2025-10.sample.csv'

async function listening(t: Test, engine: 'pglite' | 'postgres'): Promise<{ app: FastifyInstance; url: string }> {
  const app = await build(t, engine)
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { app, url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` }
}

/** A tenant and an ingest+read key, made through the CLI itself. */
async function tenantKey(t: Test, url: string): Promise<{ tenant: string; key: string }> {
  const tenant = uniqueId('cli')
  const admin = { TOKENLEDGER_URL: url, TOKENLEDGER_ADMIN_TOKEN: ADMIN_TOKEN }
  const created = await cli(['tenants', 'create', tenant, '--name', 'CLI Test'], admin)
  t.equal(created.code, 0, created.stderr)
  t.equal(created.stdout, `created tenant ${tenant} (CLI Test)\n`)
  const key = await cli(['keys', 'create', tenant, '--scopes', 'ingest,read', '--name', 'importer'], admin)
  t.equal(key.code, 0, key.stderr)
  t.match(key.stderr, /the secret is shown once/)
  t.equal(key.stdout.trim().split('\n').length, 1, 'stdout is the secret alone')
  return { tenant, key: key.stdout.trim() }
}

async function totals(app: FastifyInstance, key: string, from: string, to: string) {
  const res = await app.inject({
    method: 'POST',
    url: '/graphql',
    headers: { authorization: `Bearer ${key}` },
    payload: { query: `{ usage(from: "${from}", to: "${to}", window: TOTAL) { totals { requests inputTokens outputTokens } } }` },
  })
  const body = res.json() as { data?: { usage: { totals: Record<string, number> } }; errors?: unknown }
  if (body.errors) throw new Error(JSON.stringify(body.errors))
  return body.data!.usage.totals
}

// Each run starts a node process; on a busy 2-core CI machine a file of them needs more than tap's default.
t.setTimeout(480_000)
t.before(ensureBuilt)

t.test('--help on every command, exit 0; a usage error exits 2 with one line', async (t) => {
  const commands = [[], ['import'], ['sync'], ['tenants', 'create'], ['keys', 'create'], ['migrate']]
  const runs = await Promise.all(commands.map((cmd) => cli([...cmd, '--help'])))
  commands.forEach((cmd, i) => {
    t.equal(runs[i]!.code, 0, `${cmd.join(' ')} --help`)
    t.match(runs[i]!.stdout, new RegExp(`^Usage: tokenledger ${cmd.join(' ')}`), cmd.join(' ') || 'top level')
  })
  const bad = await cli(['import', 'a.csv', '--kind', 'invoices', '--key', 'k'])
  t.equal(bad.code, 2)
  t.equal(bad.stderr, 'tokenledger: --kind must be usage or costs, not "invoices"\n')
  const noKey = await cli(['import', 'a.csv'])
  t.equal(noKey.stderr, 'tokenledger: no key: pass --key or set TOKENLEDGER_KEY\n')
})

t.test('migrate applies the migrations to DATA_DIR directly, then finds nothing to do', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tokenledger-cli-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const env = { DATA_DIR: join(dir, 'data'), DATABASE_URL: '' }
  const first = await cli(['migrate'], env)
  t.equal(first.code, 0, first.stderr)
  const tags = JSON.parse(await readFile(join(ROOT, 'migrations/meta/_journal.json'), 'utf8')) as { entries: { tag: string }[] }
  t.equal(first.stdout, `applied ${tags.entries.length} migration(s): ${tags.entries.map((e) => e.tag).join(', ')}\n`)
  const second = await cli(['migrate'], env)
  t.equal(second.stdout, 'the database is up to date\n')
})

eachEngine(t, async (t, engine) => {
  const { app, url } = await listening(t, engine)
  const { key } = await tenantKey(t, url)
  const env = { TOKENLEDGER_URL: url, TOKENLEDGER_KEY: key }

  await t.test('imports the dashboard CSV export: summary, plain progress lines, stored totals', async (t) => {
    const path = fixturePath(t, CSV)
    if (!path) return
    const rows = (await readFile(path, 'utf8')).trim().split('\n')
    const header = rows[0]!.split(',')
    const sum = (col: string) => rows.slice(1).reduce((s, r) => s + Number(r.split(',')[header.indexOf(col)]), 0)

    const run = await cli(['import', path, '--account-id', 'org-cli'], env)
    t.equal(run.code, 0, run.stderr)
    t.match(run.stdout, `received: ${rows.length - 1}\n`)
    t.match(run.stdout, /created: \d+\n/)
    t.match(run.stderr, new RegExp(`^import: ${rows.length - 1} rows, .* \\(100%\\), \\d+ rows/s, ETA 0s$`, 'm'), 'plain progress line')
    // eslint-disable-next-line no-control-regex -- the escape character is exactly what must be absent
    t.notMatch(run.stderr, /[\r\u001b]/, 'no bar, no escape codes when stderr is not a terminal')

    const got = await totals(app, key, '2025-10-05T00:00:00Z', '2025-10-13T00:00:00Z')
    t.same(
      { requests: Number(got.requests), inputTokens: Number(got.inputTokens), outputTokens: Number(got.outputTokens) },
      { requests: sum('num_model_requests'), inputTokens: sum('input_tokens'), outputTokens: sum('output_tokens') },
    )
    const again = await cli(['import', path, '--account-id', 'org-cli', '--json'], env)
    t.match(JSON.parse(again.stdout), { received: rows.length - 1, created: 0 }, 're-import replaces nothing new (--json summary)')
  })

  await t.test('imports an OpenAI usage page (JSON)', async (t) => {
    const path = fixturePath(t, PAGE)
    if (!path) return
    const page = JSON.parse(await readFile(path, 'utf8')) as {
      data: { start_time: number; end_time: number; results: Record<string, number>[] }[]
    }
    const results = page.data.flatMap((b) => b.results)
    const run = await cli(['import', path, '--account-id', 'org-page'], env)
    t.equal(run.code, 0, run.stderr)
    t.match(run.stdout, `received: ${results.length}\n`)
    const from = new Date(Math.min(...page.data.map((b) => b.start_time)) * 1000).toISOString()
    const to = new Date(Math.max(...page.data.map((b) => b.end_time)) * 1000).toISOString()
    const got = await totals(app, key, from, to)
    const sum = (f: string) => results.reduce((s, r) => s + (r[f] ?? 0), 0)
    t.same(
      { inputTokens: Number(got.inputTokens), outputTokens: Number(got.outputTokens) },
      { inputTokens: sum('input_tokens'), outputTokens: sum('output_tokens') },
    )
  })

  await t.test('imports a cost export (--kind costs → POST /v1/billing/costs)', async (t) => {
    const path = fixturePath(t, COSTS_CSV)
    if (!path) return
    const run = await cli(['import', path, '--kind', 'costs', '--account-id', 'org-cli', '--json'], env)
    t.equal(run.code, 0, run.stderr)
    t.same(JSON.parse(run.stdout), { received: 8, skipped: 2, created: 6, replaced: 0, unchanged: 0 })
  })

  await t.test('failures: exit 1 with the problem detail on one line', async (t) => {
    const path = fixturePath(t, CSV)
    if (!path) return
    const badKey = await cli(['import', path, '--key', 'tl_not_a_key'], env)
    t.equal(badKey.code, 1)
    t.equal(badKey.stderr, 'tokenledger: 401 Unauthorized: the bearer token is not valid\n')
    const costs = await cli(['import', path, '--kind', 'costs'], env)
    t.equal(costs.code, 1)
    // Progress lines come first (the file streams before the server answers); the reason is the last line.
    t.match(costs.stderr, /\ntokenledger: 400 Invalid request: the CSV header is not a cost export header — line 1: the header has no amount_value column\n$/, 'a usage export is not a cost export')
    const sync = await cli(['sync', 'conn_1'], env)
    t.equal(sync.code, 1)
    t.equal(sync.stderr, 'tokenledger: 404 Not found: connection conn_1 does not exist\n', 'an unknown connection (test/connections/cli-sync.test.ts runs real syncs)')
    const dup = await cli(['tenants', 'create', 'dup-tenant'], { TOKENLEDGER_URL: url, TOKENLEDGER_ADMIN_TOKEN: ADMIN_TOKEN })
    t.equal(dup.code, 0)
    const again = await cli(['tenants', 'create', 'dup-tenant', '--admin-token', ADMIN_TOKEN, '--url', url])
    t.equal(again.code, 1)
    t.equal(again.stderr, 'tokenledger: 409 Conflict: tenant "dup-tenant" already exists\n')
    const scopes = await cli(['keys', 'create', 'dup-tenant', '--scopes', 'write'], { TOKENLEDGER_URL: url, TOKENLEDGER_ADMIN_TOKEN: ADMIN_TOKEN })
    t.equal(scopes.code, 1)
    t.match(scopes.stderr, /^tokenledger: 400 Invalid request: 1 problem found; nothing was written — body\.scopes\.0: .*\n$/)
    t.equal(scopes.stderr.split('\n').length, 2, 'one line')
  })
})
