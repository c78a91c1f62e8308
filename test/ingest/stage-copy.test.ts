import { Readable } from 'node:stream'
import t from 'tap'
import type { Db } from '../../src/db/client.js'
import { ingestCsvUpload } from '../../src/ingest/ingest-buckets.js'
import { eachEngine, freshDb } from '../helpers.js'

// PostgreSQL stages CSV rows with COPY, PGlite (and any Db without copyIn) with unnest inserts; both
// must store exactly the same rows, including text that COPY's format has to escape.
const HEADER = 'start_time,end_time,account_id,project_id,user_id,api_key_id,model,batch,service_tier,num_model_requests,input_tokens,input_cached_tokens,output_tokens'
const ROWS = [
  '1735689600,1735693200,acc,"p\\1","tab\there",,gpt-4o,TRUE,flex,3.0,100,20,7',
  '1735689600,1735693200,acc,"p\\1","tab\there",,gpt-4o,TRUE,flex,2,50,0,3',
  '1735689600,1735693200,,"line\nbreak","cr\rhere",k\\N,o3,FALSE,batch,,10,,',
  '1735693200,1735696800,,,,,"quote ""q"", comma",,,1,5,5,0',
  '1735693200,1735696800,,,,,"\\N",,auto,1,5,0,0',
]
const CSV = [HEADER, ...ROWS].join('\n')

/** The same database without the COPY capability: the batched-insert path. */
function withoutCopy(db: Db): Db {
  return {
    engine: db.engine,
    query: (q, p, o) => db.query(q, p, o),
    transaction: (fn) => db.transaction((tx) => fn(withoutCopy(tx))),
  }
}

const stored = (db: Db, tenant: string) =>
  db.query(
    `select provider, account_id, start_time, end_time, project_id, user_id, api_key_id, model, service_tier, batch,
       num_model_requests, input_tokens, output_tokens, in_text, in_audio, in_image, cached_text, cached_audio, cached_image,
       cache_write, out_text, out_audio, out_image, source
     from usage_buckets where tenant_id = $1 order by start_time, model, project_id`,
    [tenant],
  )

void eachEngine(t, async (t, engine) => {
  const db = await freshDb(t, engine)
  await db.query(`insert into tenants (id, name) values ('via-copy', 'a'), ('via-unnest', 'b')`)
  t.equal(typeof db.copyIn, engine === 'postgres' ? 'function' : 'undefined', 'COPY is offered on PostgreSQL only')

  t.test('the COPY path and the unnest path store identical rows', async (t) => {
    const a = await ingestCsvUpload(db, 'via-copy', Readable.from([CSV]), {}, 1 << 20)
    const b = await ingestCsvUpload(withoutCopy(db), 'via-unnest', Readable.from([CSV]), {}, 1 << 20)
    // `span` (the start_times written, for budget evaluation) is internal; the route drops it.
    t.match(a, { received: 5, skipped: 0, created: 4, replaced: 0, unchanged: 0, span: { start: Date, end: Date } })
    t.same(b, a)
    const rows = await stored(db, 'via-copy')
    t.same(await stored(db, 'via-unnest'), rows)
    const byModel = (m: string) => rows.find((r) => r.model === m)
    t.match(byModel('gpt-4o'), { project_id: 'p\\1', user_id: 'tab\there', batch: true, num_model_requests: 5, input_tokens: 150, cached_text: 20 })
    t.match(byModel('o3'), { project_id: 'line\nbreak', user_id: 'cr\rhere', api_key_id: 'k\\N', batch: true, num_model_requests: null })
    t.match(byModel('quote "q", comma'), { batch: null, service_tier: 'default' })
    t.match(byModel('\\N'), { project_id: null, service_tier: 'default' })
  })

  t.test('a bad row after many good ones leaves nothing staged or stored on either path', async (t) => {
    const many = Array.from({ length: 3000 }, (_, i) => `${1735689600 + i * 60},${1735689660 + i * 60},,,,,m,,,1,1,0,1`)
    const csv = [HEADER, ...many, '1735689600,1735693200,,,,,m,,,1,-1,0,1'].join('\n')
    for (const [name, target] of [['copy', db], ['unnest', withoutCopy(db)]] as const) {
      const err: unknown = await ingestCsvUpload(target, 'via-copy', Readable.from([csv]), {}, 1 << 30).then(
        () => undefined,
        (e: unknown) => e,
      )
      t.match(err, { statusCode: 400 }, `${name}: 400`)
      t.equal((await stored(db, 'via-copy')).length, 4, `${name}: nothing written`)
    }
    // The connection is usable afterwards (the COPY was ended before the rollback).
    t.same(await db.query('select 1 as one'), [{ one: 1 }])
  })
})
