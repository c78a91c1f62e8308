DROP INDEX "usage_buckets_tenant_time_idx";--> statement-breakpoint
-- Migration 0010's hourly trigger, with the key hashed once per rollup row instead of once per bucket:
-- the delta is grouped by the key's columns first (nulls equal, as in the key), as the daily rollup's
-- statement does (migration 0011). Same rows, same order, same arithmetic.
CREATE OR REPLACE FUNCTION "usage_bucket_hourly_maintain"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  delta text := CASE TG_OP
    WHEN 'INSERT' THEN 'select 1 as n, * from new_rows'
    WHEN 'UPDATE' THEN 'select 1 as n, * from new_rows union all select -1, * from old_rows'
    ELSE 'select -1 as n, * from old_rows'
  END;
BEGIN
  EXECUTE format($sql$
    insert into usage_bucket_hourly as r (tenant_id, hour, key_hash, provider, account_id, model, service_tier, batch, source,
      usage_type, context_tier, inference_geo, off_hour_count,
      bucket_count, requests_known, num_model_requests, input_tokens, output_tokens, in_text, in_audio, in_image,
      cached_text, cached_audio, cached_image, cache_write, cache_write_1h, out_text, out_audio, out_image)
    select tenant_id, hour,
      usage_natural_key(hour, hour, provider, account_id, model, service_tier, batch::text, source, usage_type, context_tier, inference_geo),
      provider, account_id, model, service_tier, batch, source, usage_type, context_tier, inference_geo, off_hour_count,
      bucket_count, requests_known, num_model_requests, input_tokens, output_tokens, in_text, in_audio, in_image,
      cached_text, cached_audio, cached_image, cache_write, cache_write_1h, out_text, out_audio, out_image
    from (
      select tenant_id, date_trunc('hour', start_time, 'UTC') as hour, provider, account_id, model, service_tier, batch, source,
        usage_type, context_tier, inference_geo,
        sum(n * (start_time <> date_trunc('hour', start_time, 'UTC'))::int) as off_hour_count,
        sum(n) as bucket_count, sum(n * (num_model_requests is not null)::int) as requests_known,
        sum(n * coalesce(num_model_requests, 0)) as num_model_requests,
        sum(n * input_tokens) as input_tokens, sum(n * output_tokens) as output_tokens, sum(n * in_text) as in_text,
        sum(n * in_audio) as in_audio, sum(n * in_image) as in_image, sum(n * cached_text) as cached_text,
        sum(n * cached_audio) as cached_audio, sum(n * cached_image) as cached_image, sum(n * cache_write) as cache_write,
        sum(n * cache_write_1h) as cache_write_1h, sum(n * out_text) as out_text, sum(n * out_audio) as out_audio,
        sum(n * out_image) as out_image
      from (%s) d
      group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11
    ) g
    order by 1, 2, 3
    on conflict (tenant_id, hour, key_hash) do update set
      off_hour_count = r.off_hour_count + excluded.off_hour_count,
      bucket_count = r.bucket_count + excluded.bucket_count,
      requests_known = r.requests_known + excluded.requests_known,
      num_model_requests = r.num_model_requests + excluded.num_model_requests,
      input_tokens = r.input_tokens + excluded.input_tokens, output_tokens = r.output_tokens + excluded.output_tokens,
      in_text = r.in_text + excluded.in_text, in_audio = r.in_audio + excluded.in_audio, in_image = r.in_image + excluded.in_image,
      cached_text = r.cached_text + excluded.cached_text, cached_audio = r.cached_audio + excluded.cached_audio,
      cached_image = r.cached_image + excluded.cached_image, cache_write = r.cache_write + excluded.cache_write,
      cache_write_1h = r.cache_write_1h + excluded.cache_write_1h,
      out_text = r.out_text + excluded.out_text, out_audio = r.out_audio + excluded.out_audio,
      out_image = r.out_image + excluded.out_image
  $sql$, delta);
  IF TG_OP <> 'INSERT' THEN
    -- Rows whose last bucket left: found through the unique key of the rows this statement touched.
    DELETE FROM usage_bucket_hourly r USING (
      SELECT tenant_id, hour,
        usage_natural_key(hour, hour, provider, account_id, model, service_tier, batch::text, source, usage_type, context_tier, inference_geo) AS key_hash
      FROM (
        SELECT DISTINCT tenant_id, date_trunc('hour', start_time, 'UTC') AS hour, provider, account_id, model, service_tier, batch, source,
          usage_type, context_tier, inference_geo
        FROM old_rows
      ) k
    ) o
    WHERE r.bucket_count = 0 AND r.tenant_id = o.tenant_id AND r.hour = o.hour AND r.key_hash = o.key_hash;
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
-- The rollup triggers' statements are planned from the transition tables' row counts; a 1,000-row
-- delta crossed jit_above_cost (the zone list, never analysed, was estimated at 1,200 rows) and a
-- client with JIT on (psql, the bench's raw baselines) spent ~0.9 s compiling each trigger statement
-- that then ran for 30 ms. The server's connections run with JIT off already (src/db/client.ts); the
-- triggers now do so for every client. And the zone list gets statistics (one row), so the estimates are right.
ALTER FUNCTION "usage_bucket_hourly_maintain"() SET jit = off;
--> statement-breakpoint
ALTER FUNCTION "usage_bucket_daily_maintain"() SET jit = off;
--> statement-breakpoint
ANALYZE "rollup_time_zones";
