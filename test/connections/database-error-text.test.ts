import t from 'tap'
import { eachEngine } from '../helpers.js'
import { buildWith, createConnection, OPENAI_KEY, startStub, syncAndWait, tenant } from './support/harness.js'

/**
 * A tenant reads `last_run.error`. A statement the database refused during a run was stored there as
 * the database's own text — table, constraint and value names, or the database's host and port when it
 * was unreachable — which a 5xx response never shows. It now names the failure and its SQLSTATE; the
 * text goes to the server log only.
 */
const DETAIL = 'relation internal_schema.secret_table: constraint x violated by 10.1.2.3:5432'

void eachEngine(t, async (t, engine) => {
  const stub = await startStub(t, 2)
  const lines: string[] = []
  const app = await buildWith(t, engine, { logStream: { write: (line) => void lines.push(line) } })
  const { headers } = await tenant(app)
  await app.testDb.query(`create function refuse_buckets() returns trigger language plpgsql as $$
    begin raise exception '${DETAIL}' using errcode = 'P0001'; end $$`)
  await app.testDb.query('create trigger refuse_buckets before insert on usage_buckets for each row execute function refuse_buckets()')
  t.teardown(() => app.testDb.query('drop trigger if exists refuse_buckets on usage_buckets').catch(() => undefined))

  const conn = await createConnection(app, headers, {
    name: 'o', provider: 'openai', admin_key: OPENAI_KEY, base_url: stub.url, start_date: new Date(stub.opts.dataStart).toISOString(), endpoints: ['completions'],
  })
  const state = await syncAndWait(app, headers, conn.id)
  t.equal(state.last_run?.status, 'failed')
  t.match(state.last_run?.error, /^database: a statement failed \(SQLSTATE P0001\); the server log has the details$/, `names the failure (${String(state.last_run?.error)})`)
  const listed = await app.inject({ method: 'GET', url: '/v1/connections', headers })
  for (const [what, text] of [['GET /v1/connections/:id', JSON.stringify(state)], ['GET /v1/connections', listed.body]] as const) {
    t.notOk(text.includes('secret_table') || text.includes('10.1.2.3'), `${what} carries none of the database's text`)
  }
  t.ok(lines.some((l) => l.includes('secret_table') && l.includes('connection sync: database error')), 'the server log has it')
  t.notOk(lines.some((l) => l.includes(OPENAI_KEY)), 'and no admin key')
})
