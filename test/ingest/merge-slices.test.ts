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
function csv(scale = 1): string {
  const rows: string[] = []
  for (let i = 0; i < 40; i++) {
    const day = (i * 3) % 5
    rows.push(`${T0 + day * DAY},${T0 + (day + 1) * DAY},p${i % 4},${i % 7 === 0 ? '' : `k${i % 3}`},m${i % 2},1,${(10 + i) * scale},${i}`)
  }
  rows.push(`${T0},${T0 + DAY},p0,k1,m0,2,${5 * scale},1`)
  return [HEADER, ...rows].join('\n')
}

async function readRows(text: string): Promise<{ ref: number; bucket: NormalisedBucket }[]> {
  const out: { ref: number; bucket: NormalisedBucket }[] = []
  await readUsageCsv(Readable.from([text]), {}, (bucket, line) => void out.push({ ref: line, bucket }))
  return out
}

async function merge(db: Db, tenant: string, text: string, sliceRows?: number) {
  const rows = await readRows(text)
  return db.transaction(async (tx) => {
    await createStage(tx)
    const chunk = new StageChunk()
    for (const r of rows) chunk.push(r.ref, r.bucket)
    await stageChunk(tx, chunk)
    return mergeAndUpsert(tx, tenant, 'openai_csv', rows.length, sliceRows)
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
  await db.query(`insert into tenants (id, name) values ('whole', 'a'), ('sliced', 'b')`)

  t.test('slices store, count and roll up what one statement does', async (t) => {
    const whole = await merge(db, 'whole', csv())
    const sliced = await merge(db, 'sliced', csv(), 10)
    t.same(sliced, whole)
    t.match(whole, { created: Number, replaced: 0, oversized: [] })
    t.equal(whole.distinct, whole.created)
    t.same(await stored(db, 'sliced'), await stored(db, 'whole'))
  })

  t.test('a re-post with other counters replaces through slices as through one statement', async (t) => {
    const whole = await merge(db, 'whole', csv(2))
    const sliced = await merge(db, 'sliced', csv(2), 10)
    t.same(sliced, whole)
    t.equal(whole.replaced, whole.distinct)
    t.same(await stored(db, 'sliced'), await stored(db, 'whole'))
    t.same(await merge(db, 'sliced', csv(2), 10), { ...whole, created: 0, replaced: 0 }, 'the same data again changes nothing')
  })

  t.test('an oversized sum in a later slice writes nothing and names the keys of the whole stage', async (t) => {
    const big = 2 ** 52
    const text = [HEADER, `${T0},${T0 + DAY},a,,m,1,${big},0`, `${T0 + 4 * DAY},${T0 + 5 * DAY},z,,m,1,${big},0`, `${T0 + 4 * DAY},${T0 + 5 * DAY},z,,m,1,${big},0`,
      `${T0 + 2 * DAY},${T0 + 3 * DAY},y,,m,1,${big},0`, `${T0 + 2 * DAY},${T0 + 3 * DAY},y,,m,1,${big},0`].join('\n')
    await db.query(`insert into tenants (id, name) values ('over', 'c')`)
    const err: unknown = await db
      .transaction(async (tx) => {
        const r = await merge(tx, 'over', text, 1)
        t.same(r.oversized, [3, 5], 'the first line of each oversized key, in file order')
        throw new Error('rolled back by the caller')
      })
      .catch((e: unknown) => e)
    t.match(err, { message: 'rolled back by the caller' })
    t.same((await stored(db, 'over')).buckets, [])
  })
})
