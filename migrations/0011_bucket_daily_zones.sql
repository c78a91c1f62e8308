CREATE TABLE "rollup_time_zones" (
	"time_zone" text PRIMARY KEY NOT NULL,
	"added_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
DROP INDEX "usage_bucket_daily_key";--> statement-breakpoint
ALTER TABLE "usage_bucket_daily" ADD COLUMN "time_zone" text DEFAULT 'UTC' NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "usage_bucket_daily_key" ON "usage_bucket_daily" USING btree ("tenant_id","time_zone","day","key_hash");--> statement-breakpoint
-- The zones the daily rollup is kept for. 'UTC' is always one; the server adds and removes the others
-- (ROLLUP_TIME_ZONES, src/db/rollup-zones.ts), each together with its rows in one transaction.
INSERT INTO "rollup_time_zones" ("time_zone") VALUES ('UTC');
--> statement-breakpoint
-- The one definition of the daily rollup's rows: the statement that adds `delta` (rows of usage_buckets
-- with a sign `n`: +1 entering, -1 leaving) to usage_bucket_daily for every zone `zones` lists (a query
-- of one text column). A bucket belongs to the local day of its zone that holds its start_time, as a
-- DAY window of that zone holds it in the base-table query. Used by the trigger (zones: the listed ones)
-- and by the backfill of a newly listed zone (delta: every stored bucket).
CREATE FUNCTION "usage_bucket_daily_upsert_sql"(delta text, zones text) RETURNS text LANGUAGE sql IMMUTABLE AS $fn$
  SELECT format($sql$
    insert into usage_bucket_daily as r (tenant_id, time_zone, day, key_hash, provider, account_id, project_id, user_id, api_key_id,
      model, service_tier, batch, source, usage_type, context_tier, inference_geo,
      bucket_count, requests_known, num_model_requests, input_tokens, output_tokens, in_text, in_audio, in_image,
      cached_text, cached_audio, cached_image, cache_write, cache_write_1h, out_text, out_audio, out_image)
    select tenant_id, zone, local_day,
      usage_natural_key(local_day, local_day, provider, account_id,
        project_id, user_id, api_key_id, model, service_tier, batch::text, source, usage_type, context_tier, inference_geo),
      provider, account_id, project_id, user_id, api_key_id, model, service_tier, batch, source, usage_type, context_tier, inference_geo,
      bucket_count, requests_known, num_model_requests, input_tokens, output_tokens, in_text, in_audio, in_image,
      cached_text, cached_audio, cached_image, cache_write, cache_write_1h, out_text, out_audio, out_image
    from (
      -- Grouped by the key's columns first (nulls equal, as in the key), so the key is hashed once per
      -- rollup row rather than once per bucket and zone: for hourly buckets a day's row has 24.
      select tenant_id, z.zone, l.local_day, provider, account_id, project_id, user_id, api_key_id, model, service_tier, batch,
        source, usage_type, context_tier, inference_geo,
        sum(n) as bucket_count, sum(n * (num_model_requests is not null)::int) as requests_known,
        sum(n * coalesce(num_model_requests, 0)) as num_model_requests,
        sum(n * input_tokens) as input_tokens, sum(n * output_tokens) as output_tokens, sum(n * in_text) as in_text,
        sum(n * in_audio) as in_audio, sum(n * in_image) as in_image, sum(n * cached_text) as cached_text,
        sum(n * cached_audio) as cached_audio, sum(n * cached_image) as cached_image, sum(n * cache_write) as cache_write,
        sum(n * cache_write_1h) as cache_write_1h, sum(n * out_text) as out_text, sum(n * out_audio) as out_audio,
        sum(n * out_image) as out_image
      from (%s) d
        cross join (%s) z(zone)
        cross join lateral (select date_trunc('day', d.start_time, z.zone) as local_day) l
      group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
    ) g
    order by 1, 2, 3, 4
    on conflict (tenant_id, time_zone, day, key_hash) do update set
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
  $sql$, delta, zones)
$fn$;
--> statement-breakpoint
-- Migration 0009's trigger function, now for every listed zone (the rows are built by the function above).
CREATE OR REPLACE FUNCTION "usage_bucket_daily_maintain"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  delta text := CASE TG_OP
    WHEN 'INSERT' THEN 'select 1 as n, * from new_rows'
    WHEN 'UPDATE' THEN 'select 1 as n, * from new_rows union all select -1, * from old_rows'
    ELSE 'select -1 as n, * from old_rows'
  END;
BEGIN
  EXECUTE usage_bucket_daily_upsert_sql(delta, 'select time_zone from rollup_time_zones');
  IF TG_OP <> 'INSERT' THEN
    DELETE FROM usage_bucket_daily r USING (
      SELECT DISTINCT o.tenant_id, z.time_zone, l.local_day,
        usage_natural_key(l.local_day, l.local_day, o.provider, o.account_id, o.project_id, o.user_id, o.api_key_id, o.model,
          o.service_tier, o.batch::text, o.source, o.usage_type, o.context_tier, o.inference_geo) AS key_hash
      FROM old_rows o
        CROSS JOIN rollup_time_zones z
        CROSS JOIN LATERAL (SELECT date_trunc('day', o.start_time, z.time_zone) AS local_day) l
    ) o
    WHERE r.bucket_count = 0 AND r.tenant_id = o.tenant_id AND r.time_zone = o.time_zone AND r.day = o.local_day
      AND r.key_hash = o.key_hash;
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
-- The rows of newly listed zones from the buckets already stored (src/db/rollup-zones.ts calls it while
-- writers are held off, in the transaction that lists the zones).
CREATE FUNCTION "usage_bucket_daily_backfill"(zones text[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE usage_bucket_daily_upsert_sql('select 1 as n, * from usage_buckets', format('select unnest(%L::text[])', zones));
END $$;
