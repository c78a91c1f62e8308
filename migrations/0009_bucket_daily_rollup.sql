CREATE TABLE "usage_bucket_daily" (
	"tenant_id" text NOT NULL,
	"day" timestamp with time zone NOT NULL,
	"key_hash" "bytea" NOT NULL,
	"provider" text NOT NULL,
	"account_id" text,
	"project_id" text,
	"user_id" text,
	"api_key_id" text,
	"model" text,
	"service_tier" text NOT NULL,
	"batch" boolean,
	"source" text NOT NULL,
	"usage_type" text NOT NULL,
	"context_tier" text,
	"inference_geo" text,
	"bucket_count" bigint DEFAULT 0 NOT NULL,
	"requests_known" bigint DEFAULT 0 NOT NULL,
	"num_model_requests" bigint DEFAULT 0 NOT NULL,
	"input_tokens" bigint DEFAULT 0 NOT NULL,
	"output_tokens" bigint DEFAULT 0 NOT NULL,
	"in_text" bigint DEFAULT 0 NOT NULL,
	"in_audio" bigint DEFAULT 0 NOT NULL,
	"in_image" bigint DEFAULT 0 NOT NULL,
	"cached_text" bigint DEFAULT 0 NOT NULL,
	"cached_audio" bigint DEFAULT 0 NOT NULL,
	"cached_image" bigint DEFAULT 0 NOT NULL,
	"cache_write" bigint DEFAULT 0 NOT NULL,
	"cache_write_1h" bigint DEFAULT 0 NOT NULL,
	"out_text" bigint DEFAULT 0 NOT NULL,
	"out_audio" bigint DEFAULT 0 NOT NULL,
	"out_image" bigint DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX "usage_bucket_daily_key" ON "usage_bucket_daily" USING btree ("tenant_id","day","key_hash");--> statement-breakpoint
ALTER TABLE "usage_bucket_daily" SET (fillfactor = 70);
--> statement-breakpoint
-- Keeps usage_bucket_daily equal to the UTC-day aggregate of usage_buckets over every bucket dimension,
-- exactly like usage_bucket_hourly_maintain (migrations 0001, 0003): statement-level triggers with
-- transition tables, +1 for rows that enter, -1 for rows that leave, rows whose last bucket left deleted.
-- Retention drops month partitions by name, which fires no parent trigger: like the hourly rollup, the
-- daily rollup outlives raw rows and is trimmed by the rollup retention.
CREATE FUNCTION "usage_bucket_daily_maintain"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  delta text := CASE TG_OP
    WHEN 'INSERT' THEN 'select 1 as n, * from new_rows'
    WHEN 'UPDATE' THEN 'select 1 as n, * from new_rows union all select -1, * from old_rows'
    ELSE 'select -1 as n, * from old_rows'
  END;
BEGIN
  EXECUTE format($sql$
    insert into usage_bucket_daily as r (tenant_id, day, key_hash, provider, account_id, project_id, user_id, api_key_id,
      model, service_tier, batch, source, usage_type, context_tier, inference_geo,
      bucket_count, requests_known, num_model_requests, input_tokens, output_tokens, in_text, in_audio, in_image,
      cached_text, cached_audio, cached_image, cache_write, cache_write_1h, out_text, out_audio, out_image)
    select tenant_id, date_trunc('day', start_time, 'UTC'),
      usage_natural_key(date_trunc('day', start_time, 'UTC'), date_trunc('day', start_time, 'UTC'), provider, account_id,
        project_id, user_id, api_key_id, model, service_tier, batch::text, source, usage_type, context_tier, inference_geo),
      min(provider), min(account_id), min(project_id), min(user_id), min(api_key_id), min(model), min(service_tier),
      bool_and(batch), min(source), min(usage_type), min(context_tier), min(inference_geo),
      sum(n), sum(n * (num_model_requests is not null)::int), sum(n * coalesce(num_model_requests, 0)),
      sum(n * input_tokens), sum(n * output_tokens), sum(n * in_text), sum(n * in_audio), sum(n * in_image),
      sum(n * cached_text), sum(n * cached_audio), sum(n * cached_image), sum(n * cache_write), sum(n * cache_write_1h),
      sum(n * out_text), sum(n * out_audio), sum(n * out_image)
    from (%s) d
    group by 1, 2, 3
    order by 1, 2, 3
    on conflict (tenant_id, day, key_hash) do update set
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
    DELETE FROM usage_bucket_daily r USING (
      SELECT DISTINCT tenant_id, date_trunc('day', start_time, 'UTC') AS day,
        usage_natural_key(date_trunc('day', start_time, 'UTC'), date_trunc('day', start_time, 'UTC'), provider, account_id,
          project_id, user_id, api_key_id, model, service_tier, batch::text, source, usage_type, context_tier, inference_geo) AS key_hash
      FROM old_rows
    ) o
    WHERE r.bucket_count = 0 AND r.tenant_id = o.tenant_id AND r.day = o.day AND r.key_hash = o.key_hash;
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE FUNCTION "usage_bucket_daily_truncate"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE usage_bucket_daily;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER "usage_bucket_daily_insert" AFTER INSERT ON "usage_buckets"
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "usage_bucket_daily_maintain"();
--> statement-breakpoint
CREATE TRIGGER "usage_bucket_daily_update" AFTER UPDATE ON "usage_buckets"
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "usage_bucket_daily_maintain"();
--> statement-breakpoint
CREATE TRIGGER "usage_bucket_daily_delete" AFTER DELETE ON "usage_buckets"
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION "usage_bucket_daily_maintain"();
--> statement-breakpoint
CREATE TRIGGER "usage_bucket_daily_truncate" AFTER TRUNCATE ON "usage_buckets"
  FOR EACH STATEMENT EXECUTE FUNCTION "usage_bucket_daily_truncate"();
--> statement-breakpoint
-- Existing installations: build the rollup from the buckets already stored.
INSERT INTO usage_bucket_daily (tenant_id, day, key_hash, provider, account_id, project_id, user_id, api_key_id,
  model, service_tier, batch, source, usage_type, context_tier, inference_geo,
  bucket_count, requests_known, num_model_requests, input_tokens, output_tokens, in_text, in_audio, in_image,
  cached_text, cached_audio, cached_image, cache_write, cache_write_1h, out_text, out_audio, out_image)
SELECT tenant_id, date_trunc('day', start_time, 'UTC'),
  usage_natural_key(date_trunc('day', start_time, 'UTC'), date_trunc('day', start_time, 'UTC'), provider, account_id,
    project_id, user_id, api_key_id, model, service_tier, batch::text, source, usage_type, context_tier, inference_geo),
  min(provider), min(account_id), min(project_id), min(user_id), min(api_key_id), min(model), min(service_tier),
  bool_and(batch), min(source), min(usage_type), min(context_tier), min(inference_geo),
  count(*), count(num_model_requests), coalesce(sum(num_model_requests), 0), sum(input_tokens), sum(output_tokens),
  sum(in_text), sum(in_audio), sum(in_image), sum(cached_text), sum(cached_audio), sum(cached_image), sum(cache_write),
  sum(cache_write_1h), sum(out_text), sum(out_audio), sum(out_image)
FROM usage_buckets
GROUP BY 1, 2, 3;
