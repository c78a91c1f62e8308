ALTER TABLE "usage_bucket_hourly" ADD COLUMN "off_hour_count" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX "usage_bucket_hourly_off_hour" ON "usage_bucket_hourly" USING btree ("tenant_id","hour") WHERE off_hour_count > 0;--> statement-breakpoint
-- How many of a rollup row's buckets start off the whole hour, kept by the same statement-level delta as
-- the other counters (+1 for each off-hour bucket that enters, -1 for each that leaves). A row whose
-- count is 0 stands exactly for buckets that all start at `hour`, so it belongs to the window of `hour`
-- in any zone (Asia/Kolkata too) and to every price segment `hour` is in: src/usage/rollups.ts reads
-- the rollup for such shapes when no row of the range has off-hour buckets (the partial index makes
-- that check one probe, since hourly data leaves it empty).
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
    select tenant_id, date_trunc('hour', start_time, 'UTC'),
      usage_natural_key(date_trunc('hour', start_time, 'UTC'), date_trunc('hour', start_time, 'UTC'), provider, account_id, model, service_tier, batch::text, source, usage_type, context_tier, inference_geo),
      min(provider), min(account_id), min(model), min(service_tier), bool_and(batch), min(source),
      min(usage_type), min(context_tier), min(inference_geo),
      sum(n * (start_time <> date_trunc('hour', start_time, 'UTC'))::int),
      sum(n), sum(n * (num_model_requests is not null)::int), sum(n * coalesce(num_model_requests, 0)),
      sum(n * input_tokens), sum(n * output_tokens), sum(n * in_text), sum(n * in_audio), sum(n * in_image),
      sum(n * cached_text), sum(n * cached_audio), sum(n * cached_image), sum(n * cache_write), sum(n * cache_write_1h),
      sum(n * out_text), sum(n * out_audio), sum(n * out_image)
    from (%s) d
    group by 1, 2, 3
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
      SELECT DISTINCT tenant_id, date_trunc('hour', start_time, 'UTC') AS hour,
        usage_natural_key(date_trunc('hour', start_time, 'UTC'), date_trunc('hour', start_time, 'UTC'), provider, account_id, model, service_tier, batch::text, source, usage_type, context_tier, inference_geo) AS key_hash
      FROM old_rows
    ) o
    WHERE r.bucket_count = 0 AND r.tenant_id = o.tenant_id AND r.hour = o.hour AND r.key_hash = o.key_hash;
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
-- Existing installations: count the off-hour buckets already stored (rows without any keep 0).
UPDATE usage_bucket_hourly r SET off_hour_count = o.n
FROM (
  SELECT tenant_id, date_trunc('hour', start_time, 'UTC') AS hour,
    usage_natural_key(date_trunc('hour', start_time, 'UTC'), date_trunc('hour', start_time, 'UTC'), provider, account_id, model, service_tier, batch::text, source, usage_type, context_tier, inference_geo) AS key_hash,
    count(*) AS n
  FROM usage_buckets
  WHERE start_time <> date_trunc('hour', start_time, 'UTC')
  GROUP BY 1, 2, 3
) o
WHERE r.tenant_id = o.tenant_id AND r.hour = o.hour AND r.key_hash = o.key_hash;
