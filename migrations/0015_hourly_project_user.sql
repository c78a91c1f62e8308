ALTER TABLE "usage_bucket_hourly" ADD COLUMN "project_id" text;--> statement-breakpoint
ALTER TABLE "usage_bucket_hourly" ADD COLUMN "user_id" text;--> statement-breakpoint
ALTER TABLE "usage_bucket_hourly" ADD COLUMN "detailed" boolean DEFAULT true NOT NULL;--> statement-breakpoint
CREATE INDEX "usage_bucket_hourly_coarse" ON "usage_bucket_hourly" USING btree ("tenant_id","hour") WHERE not detailed;--> statement-breakpoint
-- The hourly rollup keeps project and user too (every bucket dimension but the API key): migration 0012's
-- trigger with project_id and user_id grouped and in the key. Same order, same arithmetic; the function
-- keeps migration 0012's `jit = off`.
CREATE OR REPLACE FUNCTION "usage_bucket_hourly_maintain"() RETURNS trigger LANGUAGE plpgsql SET jit = off AS $$
DECLARE
  delta text := CASE TG_OP
    WHEN 'INSERT' THEN 'select 1 as n, * from new_rows'
    WHEN 'UPDATE' THEN 'select 1 as n, * from new_rows union all select -1, * from old_rows'
    ELSE 'select -1 as n, * from old_rows'
  END;
BEGIN
  EXECUTE format($sql$
    insert into usage_bucket_hourly as r (tenant_id, hour, key_hash, provider, account_id, project_id, user_id, model,
      service_tier, batch, source, usage_type, context_tier, inference_geo, off_hour_count,
      bucket_count, requests_known, num_model_requests, input_tokens, output_tokens, in_text, in_audio, in_image,
      cached_text, cached_audio, cached_image, cache_write, cache_write_1h, out_text, out_audio, out_image)
    select tenant_id, hour,
      usage_natural_key(hour, hour, provider, account_id, project_id, user_id, model, service_tier, batch::text, source, usage_type, context_tier, inference_geo),
      provider, account_id, project_id, user_id, model, service_tier, batch, source, usage_type, context_tier, inference_geo, off_hour_count,
      bucket_count, requests_known, num_model_requests, input_tokens, output_tokens, in_text, in_audio, in_image,
      cached_text, cached_audio, cached_image, cache_write, cache_write_1h, out_text, out_audio, out_image
    from (
      select tenant_id, date_trunc('hour', start_time, 'UTC') as hour, provider, account_id, project_id, user_id, model,
        service_tier, batch, source, usage_type, context_tier, inference_geo,
        sum(n * (start_time <> date_trunc('hour', start_time, 'UTC'))::int) as off_hour_count,
        sum(n) as bucket_count, sum(n * (num_model_requests is not null)::int) as requests_known,
        sum(n * coalesce(num_model_requests, 0)) as num_model_requests,
        sum(n * input_tokens) as input_tokens, sum(n * output_tokens) as output_tokens, sum(n * in_text) as in_text,
        sum(n * in_audio) as in_audio, sum(n * in_image) as in_image, sum(n * cached_text) as cached_text,
        sum(n * cached_audio) as cached_audio, sum(n * cached_image) as cached_image, sum(n * cache_write) as cache_write,
        sum(n * cache_write_1h) as cache_write_1h, sum(n * out_text) as out_text, sum(n * out_audio) as out_audio,
        sum(n * out_image) as out_image
      from (%s) d
      group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13
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
        usage_natural_key(hour, hour, provider, account_id, project_id, user_id, model, service_tier, batch::text, source, usage_type, context_tier, inference_geo) AS key_hash
      FROM (
        SELECT DISTINCT tenant_id, date_trunc('hour', start_time, 'UTC') AS hour, provider, account_id, project_id, user_id, model,
          service_tier, batch, source, usage_type, context_tier, inference_geo
        FROM old_rows
      ) k
    ) o
    WHERE r.bucket_count = 0 AND r.tenant_id = o.tenant_id AND r.hour = o.hour AND r.key_hash = o.key_hash;
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
-- Existing installations. A rollup row of an hour that holds no stored bucket outlived its buckets
-- (retention drops raw months and keeps the rollups): it cannot be split by project and user, so it is
-- kept as it is, marked not detailed, with its key rehashed the new way (project and user null) so that
-- buckets re-stored into that hour add to it. Every other row is rebuilt from the buckets.
UPDATE usage_bucket_hourly r SET detailed = false,
  key_hash = usage_natural_key(hour, hour, provider, account_id, NULL, NULL, model, service_tier, batch::text, source, usage_type, context_tier, inference_geo)
WHERE NOT EXISTS (
  SELECT 1 FROM usage_buckets b
  WHERE b.tenant_id = r.tenant_id AND b.start_time >= r.hour AND b.start_time < r.hour + interval '1 hour'
);
--> statement-breakpoint
DELETE FROM usage_bucket_hourly WHERE detailed;
--> statement-breakpoint
INSERT INTO usage_bucket_hourly (tenant_id, hour, key_hash, provider, account_id, project_id, user_id, model,
  service_tier, batch, source, usage_type, context_tier, inference_geo, off_hour_count,
  bucket_count, requests_known, num_model_requests, input_tokens, output_tokens, in_text, in_audio, in_image,
  cached_text, cached_audio, cached_image, cache_write, cache_write_1h, out_text, out_audio, out_image)
SELECT tenant_id, hour,
  usage_natural_key(hour, hour, provider, account_id, project_id, user_id, model, service_tier, batch::text, source, usage_type, context_tier, inference_geo),
  provider, account_id, project_id, user_id, model, service_tier, batch, source, usage_type, context_tier, inference_geo,
  off_hour_count, bucket_count, requests_known, num_model_requests, input_tokens, output_tokens, in_text, in_audio, in_image,
  cached_text, cached_audio, cached_image, cache_write, cache_write_1h, out_text, out_audio, out_image
FROM (
  SELECT tenant_id, date_trunc('hour', start_time, 'UTC') AS hour, provider, account_id, project_id, user_id, model,
    service_tier, batch, source, usage_type, context_tier, inference_geo,
    count(*) FILTER (WHERE start_time <> date_trunc('hour', start_time, 'UTC')) AS off_hour_count,
    count(*) AS bucket_count, count(num_model_requests) AS requests_known, coalesce(sum(num_model_requests), 0) AS num_model_requests,
    sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens, sum(in_text) AS in_text, sum(in_audio) AS in_audio,
    sum(in_image) AS in_image, sum(cached_text) AS cached_text, sum(cached_audio) AS cached_audio, sum(cached_image) AS cached_image,
    sum(cache_write) AS cache_write, sum(cache_write_1h) AS cache_write_1h, sum(out_text) AS out_text, sum(out_audio) AS out_audio,
    sum(out_image) AS out_image
  FROM usage_buckets
  GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13
) g;
--> statement-breakpoint
ANALYZE "usage_bucket_hourly";
