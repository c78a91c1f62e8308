import { Readable } from 'node:stream'
import t from 'tap'
import type { Db } from '../../src/db/client.js'
import { createStage, mergeAndUpsert, StageChunk, stageChunk } from '../../src/db/queries/buckets.js'
import type { NormalisedBucket } from '../../src/ingest/bucket.js'
import { readUsageCsv } from '../../src/ingest/openai-csv.js'
import { eachEngine, freshDb } from '../helpers.js'

// A large stage is merged in slices of consecutive start times (src/db/queries/buckets.ts). Slices
// must store, count and roll up exactly what one statement does: same-key rows summed across the
// file, report shapes over every row of a (start, end), replacements and unchanged rows counted alike.
const HEADER = 'start_time,end_time,project_id,api_key_id,model,num_model_requests,input_tokens,output_tokens'
const DAY = 86_400
const T0 = 1_759_276_800

/** Rows over 5 days, out of time order, with same-key parts far apart and a shape that only a late row widens. */
function csv(scale = 1, t0 = T0): string {
  const rows: string[] = []
  for (let i = 0; i < 40; i++) {
    const day = (i * 3) % 5
    rows.push(`${t0 + day * DAY},${t0 + (day + 1) * DAY},p${i % 4},${i % 7 === 0 ? '' : `k${i % 3}`},m${i % 2},1,${(10 + i) * scale},${i}`)
  }
  rows.push(`${t0},${t0 + DAY},p0,k1,m0,2,${5 * scale},1`)
  return [HEADER, ...rows].join('\n')
}

async function readRows(text: string): Promise<{ ref: number; bucket: NormalisedBucket }[]> {
  const out: { ref: number; bucket: NormalisedBucket }[] = []
  await readUsageCsv(Readable.from([text]), {}, (bucket, line) => void out.push({ ref: line, bucket }))
  return out
}

async function merge(db: Db, tenant: string, text: string, opts: { sliceRows?: number; exclusive?: boolean } = {}) {
  const rows = await readRows(text)
  return db.transaction(async (tx) => {
    await createStage(tx)
    const chunk = new StageChunk()
    for (const r of rows) chunk.push(r.ref, r.bucket)
    await stageChunk(tx, chunk)
    return mergeAndUpsert(tx, tenant, 'openai_csv', rows.length, opts)
  })
}

const stored = async (db: Db, tenant: string) => ({
  buckets: await db.query(
    `select start_time, project_id, api_key_id, model, num_model_requests, input_tokens, output_tokens, shape from usage_buckets
     where tenant_id = $1 order by start_time, project_id, api_key_id nulls first, model`,
    [tenant],
  ),
  hourly: await db.query(`select hour, model, bucket_count, input_tokens from usage_bucket_hourly where tenant_id = $1 order by hour, model`, [tenant]),
  daily: await db.query(
    `select day, project_id, api_key_id, model, bucket_count, input_tokens from usage_bucket_daily where tenant_id = $1
     order by day, project_id, api_key_id nulls first, model`,
    [tenant],
  ),
})

void eachEngine(t, async (t, engine) => {
  const db = await freshDb(t, engine)
  await db.query(`insert into tenants (id, name) values ('whole', 'a'), ('sliced', 'b'), ('plain', 'd'), ('plain-whole', 'e')`)

  t.test('slices store, count and roll up what one statement does', async (t) => {
    const whole = await merge(db, 'whole', csv())
    const sliced = await merge(db, 'sliced', csv(), { sliceRows: 10 })
    t.same(sliced, whole)
    t.match(whole, { created: Number, replaced: 0, oversized: [] })
    t.equal(whole.distinct, whole.created)
    t.same(await stored(db, 'sliced'), await stored(db, 'whole'))
  })

  // Under exclusive locks a slice (or the whole stage) that starts where the tenant stores nothing is
  // a plain insert; one whose range holds stored rows is the upsert. Both end as the upsert alone does.
  t.test('exclusive: new slices are inserted, the others upserted, to the same rows and rollups', async (t) => {
    const early = [HEADER, ...csv().split('\n').slice(1).filter((line) => Number(line.split(',')[0]) < T0 + 2 * DAY)].join('\n')
    t.same(await merge(db, 'plain', early, { sliceRows: 10, exclusive: true }), await merge(db, 'plain-whole', early, { exclusive: true }))
    const sliced = await merge(db, 'plain', csv(3), { sliceRows: 10, exclusive: true })
    const whole = await merge(db, 'plain-whole', csv(3))
    t.same(sliced, whole)
    t.ok(whole.created > 0 && whole.replaced > 0, 'new keys and replaced ones')
    t.same(await stored(db, 'plain'), await stored(db, 'plain-whole'))
    t.same((await stored(db, 'plain')).buckets, (await stored(db, 'whole')).buckets.map((b) => ({ ...b, input_tokens: Number(b.input_tokens) * 3 })))
    const fresh = await merge(db, 'plain', csv(3, T0 + 10 * DAY), { sliceRows: 10, exclusive: true })
    t.match(fresh, { created: whole.distinct, replaced: 0, oversized: [] }, 'a range the tenant does not store yet')
  })

  t.test('exclusive: a key stored behind the locks turns the plain insert back into the upsert', async (t) => {
    await db.query(`insert into tenants (id, name) values ('bypass', 'f')`)
    const text = [HEADER, `${T0 + 20 * DAY},${T0 + 21 * DAY},p,k,m,1,10,1`, `${T0 + 20 * DAY},${T0 + 21 * DAY},q,k,m,1,20,2`].join('\n')
    const r = await db.transaction(async (tx) => {
      await createStage(tx)
      const chunk = new StageChunk()
      for (const row of await readRows(text)) chunk.push(row.ref, row.bucket)
      await stageChunk(tx, chunk)
      // Another row of the tenant in the range would make it not fresh: the key itself is stored only
      // once freshness was checked, as a writer that takes no lock could.
      const orig = tx.query.bind(tx)
      let injected = false
      const spy: Db = {
        ...tx,
        query: async <T>(q: Parameters<Db['query']>[0], params?: unknown[], opts?: Parameters<Db['query']>[2]) => {
          const rows = await orig<T>(q, params, opts)
          if (!injected && typeof q !== 'string' && JSON.stringify(q).includes('as fresh')) {
            injected = true
            await orig(`insert into usage_buckets (tenant_id, provider, start_time, end_time, project_id, api_key_id, model, service_tier, usage_type, num_model_requests, input_tokens, output_tokens, in_text, out_text, source, shape)
              values ('bypass', 'openai', to_timestamp(${T0 + 20 * DAY}), to_timestamp(${T0 + 21 * DAY}), 'p', 'k', 'm', 'default', 'completions', 1, 5, 1, 5, 1, 'openai_csv', '13')`)
          }
          return rows
        },
        transaction: (fn) => tx.transaction(fn),
      }
      return mergeAndUpsert(spy, 'bypass', 'openai_csv', 2, { exclusive: true })
    })
    t.match(r, { distinct: 2, created: 1, replaced: 1 })
    const rows = await db.query<{ project_id: string; input_tokens: number }>(`select project_id, input_tokens from usage_buckets where tenant_id = 'bypass' order by project_id`)
    t.same(rows.map((x) => [x.project_id, x.input_tokens]), [['p', 10], ['q', 20]])
    const daily = await db.query<{ n: number; input: number }>(`select sum(bucket_count)::int8 as n, sum(input_tokens)::int8 as input from usage_bucket_daily where tenant_id = 'bypass'`)
    t.same(daily, [{ n: 2, input: 30 }])
  })

  t.test('a re-post with other counters replaces through slices as through one statement', async (t) => {
    const whole = await merge(db, 'whole', csv(2))
    const sliced = await merge(db, 'sliced', csv(2), { sliceRows: 10 })
    t.same(sliced, whole)
    t.equal(whole.replaced, whole.distinct)
    t.same(await stored(db, 'sliced'), await stored(db, 'whole'))
    t.same(await merge(db, 'sliced', csv(2), { sliceRows: 10 }), { ...whole, created: 0, replaced: 0 }, 'the same data again changes nothing')
  })

  t.test('an oversized sum in a later slice writes nothing and names the keys of the whole stage', async (t) => {
    const big = 2 ** 52
    const text = [HEADER, `${T0},${T0 + DAY},a,,m,1,${big},0`, `${T0 + 4 * DAY},${T0 + 5 * DAY},z,,m,1,${big},0`, `${T0 + 4 * DAY},${T0 + 5 * DAY},z,,m,1,${big},0`,
      `${T0 + 2 * DAY},${T0 + 3 * DAY},y,,m,1,${big},0`, `${T0 + 2 * DAY},${T0 + 3 * DAY},y,,m,1,${big},0`].join('\n')
    await db.query(`insert into tenants (id, name) values ('over', 'c')`)
    const err: unknown = await db
      .transaction(async (tx) => {
        const r = await merge(tx, 'over', text, { sliceRows: 1 })
        t.same(r.oversized, [3, 5], 'the first line of each oversized key, in file order')
        throw new Error('rolled back by the caller')
      })
      .catch((e: unknown) => e)
    t.match(err, { message: 'rolled back by the caller' })
    t.same((await stored(db, 'over')).buckets, [])
  })
})
