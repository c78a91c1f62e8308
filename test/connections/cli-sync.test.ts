import type { AddressInfo } from 'node:net'
import t from 'tap'
import { eachEngine } from '../helpers.js'
import { ensureBuilt } from '../setup/compiled.js'
import { runBuiltCli as cli } from '../cli/run-cli.js'
import { buildWith, createConnection, ledgerTotals, OPENAI_KEY, startStub, tenant } from './support/harness.js'

t.setTimeout(480_000)
t.before(ensureBuilt)

void t.test('tokenledger sync <id> runs a pull now, waits for it and reports it; a failed run exits 1 with its error', (t) =>
  eachEngine(t, async (t, engine) => {
    const stub = await startStub(t, 10)
    const app = await buildWith(t, engine)
    await app.listen({ port: 0, host: '127.0.0.1' })
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
    const { tenantId, headers } = await tenant(app)
    const env = { TOKENLEDGER_URL: url, TOKENLEDGER_KEY: headers.authorization.slice('Bearer '.length) }
    const good = await createConnection(app, headers, { name: 'ok', provider: 'openai', admin_key: OPENAI_KEY, base_url: stub.url, start_date: new Date(stub.opts.dataStart).toISOString(), endpoints: ['completions'] })
    const ran = await cli(['sync', good.id], env)
    t.equal(ran.code, 0, ran.stderr)
    t.match(ran.stdout, /^status: succeeded\n/m)
    t.match(ran.stdout, /^rows: \d+\n/m)
    t.equal((await ledgerTotals(app.testDb, tenantId)).buckets[0]?.input, String(stub.expected().completions.input), 'the pull stored everything before the CLI returned')

    const repull = await cli(['sync', good.id, '--from', new Date(stub.opts.dataStart).toISOString().slice(0, 10)], env)
    t.equal(repull.code, 0, repull.stderr)
    t.equal((await ledgerTotals(app.testDb, tenantId)).buckets[0]?.input, String(stub.expected().completions.input), '--from re-pulled: stored once')
    const badFrom = await cli(['sync', good.id, '--from', 'last tuesday'], env)
    t.equal(badFrom.code, 1, 'a --from the server refuses exits 1')
    t.match(badFrom.stderr, /body\.from/, 'naming the field')

    const bad = await createConnection(app, headers, { name: 'bad', provider: 'openai', admin_key: 'sk-admin-wrong-0000000000', base_url: stub.url, start_date: new Date(stub.opts.dataStart).toISOString() })
    const failed = await cli(['sync', bad.id], env)
    t.equal(failed.code, 1)
    t.match(failed.stderr, /^tokenledger: sync: the run failed: GET .* answered 401 Unauthorized/)
    t.notMatch(failed.stderr + failed.stdout, 'sk-admin-wrong-0000000000', 'the key is not repeated')
  }),
)
