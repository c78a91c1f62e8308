CREATE TABLE "usage_bucket_hourly" (
	"tenant_id" text NOT NULL,
	"hour" timestamp with time zone NOT NULL,
	"provider" text NOT NULL,
	"account_id" text,
	"model" text,
	"service_tier" text NOT NULL,
	"batch" boolean,
	"source" text NOT NULL,
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
	"out_text" bigint DEFAULT 0 NOT NULL,
	"out_audio" bigint DEFAULT 0 NOT NULL,
	"out_image" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "usage_bucket_hourly_key" UNIQUE NULLS NOT DISTINCT("tenant_id","hour","provider","account_id","model","service_tier","batch","source")
);
--> statement-breakpoint
-- Room on each page for HOT updates: a trigger rewrites the same rollup rows over and over and no
-- indexed column ever changes, so updates need not touch the index.
ALTER TABLE "usage_bucket_hourly" SET (fillfactor = 70);--> statement-breakpoint
-- Keeps usage_bucket_hourly equal to the hourly aggregate of usage_buckets. Statement-level triggers
-- with transition tables: one set-based upsert per writing statement, in the writer's transaction.
-- Rows that enter count +1, rows that leave count -1 (an UPDATE is both), so any write — ingest
-- upserts, DELETE by range, a manual fix in psql — keeps the rollup exact. Keys are upserted in a
-- fixed order so concurrent writers lock shared rows in the same order.
CREATE FUNCTION "usage_bucket_hourly_maintain"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  delta text := CASE TG_OP
    WHEN 'INSERT' THEN 'select 1 as n, * from new_rows'
    WHEN 'UPDATE' THEN 'select 1 as n, * from new_rows union all select -1, * from old_rows'
    ELSE 'select -1 as n, * from old_rows'
  END;
BEGIN
  EXECUTE format($sql$
    insert into usage_bucket_hourly as r (tenant_id, hour, provider, account_id, model, service_tier, batch, source,
      bucket_count, requests_known, num_model_requests, input_tokens, output_tokens, in_text, in_audio, in_image,
      cached_text, cached_audio, cached_image, cache_write, out_text, out_audio, out_image)
    select tenant_id, date_trunc('hour', start_time, 'UTC'), provider, account_id, model, service_tier, batch, source,
      sum(n), sum(n * (num_model_requests is not null)::int), sum(n * coalesce(num_model_requests, 0)),
      sum(n * input_tokens), sum(n * output_tokens), sum(n * in_text), sum(n * in_audio), sum(n * in_image),
      sum(n * cached_text), sum(n * cached_audio), sum(n * cached_image), sum(n * cache_write),
      sum(n * out_text), sum(n * out_audio), sum(n * out_image)
    from (%s) d
    group by 1, 2, 3, 4, 5, 6, 7, 8
    order by 1, 2, 3, 4, 5, 6, 7, 8
    on conflict on constraint usage_bucket_hourly_key do update set
      bucket_count = r.bucket_count + excluded.bucket_count,
      requests_known = r.requests_known + excluded.requests_known,
      num_model_requests = r.num_model_requests + excluded.num_model_requests,
      input_tokens = r.input_tokens + excluded.input_tokens, output_tokens = r.output_tokens + excluded.output_tokens,
      in_text = r.in_text + excluded.in_text, in_audio = r.in_audio + excluded.in_audio, in_image = r.in_image + excluded.in_image,
      cached_text = r.cached_text + excluded.cached_text, cached_audio = r.cached_audio + excluded.cached_audio,
      cached_image = r.cached_image + excluded.cached_image, cache_write = r.cache_write + excluded.cache_write,
      out_text = r.out_text + excluded.out_text, out_audio = r.out_audio + excluded.out_audio,
      out_image = r.out_image + excluded.out_image
  $sql$, delta);
  IF TG_OP <> 'INSERT' THEN
    -- Rows whose last bucket left: found through the unique key of the rows this statement touched.
    DELETE FROM usage_bucket_hourly r USING (
      SELECT DISTINCT tenant_id, date_trunc('hour', start_time, 'UTC') AS hour, provider, account_id, model, service_tier, batch, source
      FROM old_rows
    ) o
    WHERE r.bucket_count = 0 AND r.tenant_id = o.tenant_id AND r.hour = o.hour AND r.provider = o.provider
      AND r.account_id IS NOT DISTINCT FROM o.account_id AND r.model IS NOT DISTINCT FROM o.model
      AND r.service_tier = o.service_tier AND r.batch IS NOT DISTINCT FROM o.batch AND r.source = o.source;
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE FUNCTION "usage_bucket_hourly_truncate"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE usage_bucket_hourly;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER "usage_bucket_hourly_insert" AFTER INSERT ON "usage_buckets"
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "usage_bucket_hourly_maintain"();
--> statement-breakpoint
CREATE TRIGGER "usage_bucket_hourly_update" AFTER UPDATE ON "usage_buckets"
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "usage_bucket_hourly_maintain"();
--> statement-breakpoint
CREATE TRIGGER "usage_bucket_hourly_delete" AFTER DELETE ON "usage_buckets"
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION "usage_bucket_hourly_maintain"();
--> statement-breakpoint
CREATE TRIGGER "usage_bucket_hourly_truncate" AFTER TRUNCATE ON "usage_buckets"
  FOR EACH STATEMENT EXECUTE FUNCTION "usage_bucket_hourly_truncate"();
--> statement-breakpoint
-- Existing installations: build the rollup from the buckets already stored.
INSERT INTO usage_bucket_hourly (tenant_id, hour, provider, account_id, model, service_tier, batch, source,
  bucket_count, requests_known, num_model_requests, input_tokens, output_tokens, in_text, in_audio, in_image,
  cached_text, cached_audio, cached_image, cache_write, out_text, out_audio, out_image)
SELECT tenant_id, date_trunc('hour', start_time, 'UTC'), provider, account_id, model, service_tier, batch, source,
  count(*), count(num_model_requests), coalesce(sum(num_model_requests), 0), sum(input_tokens), sum(output_tokens),
  sum(in_text), sum(in_audio), sum(in_image), sum(cached_text), sum(cached_audio), sum(cached_image), sum(cache_write),
  sum(out_text), sum(out_audio), sum(out_image)
FROM usage_buckets
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;
