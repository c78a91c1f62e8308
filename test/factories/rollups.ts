import type { DbClient } from '../../src/db/client.js'

// The rollups as stored, and as they must be by definition: grouped from usage_buckets (each pair must be equal).
const ROLLUP_COLUMNS = `bucket_count, requests_known, num_model_requests, input_tokens, output_tokens, in_text, in_audio,
  in_image, cached_text, cached_audio, cached_image, cache_write, cache_write_1h, out_text, out_audio, out_image`

/** The daily rollup as stored, and as it must be by definition (every dimension, per UTC day). */
export async function dailyVsBase(db: DbClient): Promise<[unknown[], unknown[]]> {
  const dims = `provider, account_id, project_id, user_id, api_key_id, model, service_tier, batch, source, usage_type, context_tier, inference_geo`
  const order = 'order by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14'
  const stored = await db.query(`select tenant_id, day, ${dims}, ${ROLLUP_COLUMNS} from usage_bucket_daily ${order}`)
  const expected = await db.query(`select tenant_id, date_trunc('day', start_time, 'UTC') as day, ${dims},
      count(*)::int8 as bucket_count, count(num_model_requests)::int8 as requests_known,
      coalesce(sum(num_model_requests), 0)::int8 as num_model_requests,
      ${ROLLUP_COLUMNS.split(',').slice(3).map((c) => `sum(${c.trim()})::int8 as ${c.trim()}`).join(', ')}
    from usage_buckets group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14 ${order}`)
  return [stored, expected]
}

/** The rollup as stored, and as it must be by definition (grouped from usage_buckets). */
export async function rollupVsBase(db: DbClient): Promise<[unknown[], unknown[]]> {
  const keys = `tenant_id, hour, provider, account_id, project_id, user_id, model, service_tier, batch, source, usage_type, context_tier, inference_geo`
  const order = 'order by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13'
  const stored = await db.query(`select ${keys}, off_hour_count, ${ROLLUP_COLUMNS} from usage_bucket_hourly ${order}`)
  const expected = await db.query(`select tenant_id, date_trunc('hour', start_time, 'UTC') as hour, provider, account_id,
      project_id, user_id, model, service_tier, batch, source, usage_type, context_tier, inference_geo,
      count(*) filter (where start_time <> date_trunc('hour', start_time, 'UTC'))::int8 as off_hour_count,
      count(*)::int8 as bucket_count, count(num_model_requests)::int8 as requests_known,
      coalesce(sum(num_model_requests), 0)::int8 as num_model_requests,
      ${ROLLUP_COLUMNS.split(',').slice(3).map((c) => `sum(${c.trim()})::int8 as ${c.trim()}`).join(', ')}
    from usage_buckets group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13 ${order}`)
  return [stored, expected]
}
