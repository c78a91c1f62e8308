CREATE TABLE "usage_resources" (
	"tenant_id" text NOT NULL,
	"id" bigserial NOT NULL,
	"provider" text NOT NULL,
	"account_id" text,
	"start_time" timestamp with time zone NOT NULL,
	"end_time" timestamp with time zone NOT NULL,
	"project_id" text,
	"user_id" text,
	"api_key_id" text,
	"model" text,
	"service_tier" text NOT NULL,
	"batch" boolean,
	"context_tier" text,
	"inference_geo" text,
	"resource" text NOT NULL,
	"attributes" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"quantity" numeric NOT NULL,
	"num_model_requests" bigint,
	"reported_cost" numeric,
	"shape" text DEFAULT '' NOT NULL,
	"key_hash" "bytea",
	"source" text NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "usage_resources_tenant_id_id_pk" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "usage_resources_time_order" CHECK ("usage_resources"."end_time" > "usage_resources"."start_time"),
	CONSTRAINT "usage_resources_quantity" CHECK ("usage_resources"."quantity" >= 0)
);
--> statement-breakpoint
ALTER TABLE "usage_bucket_hourly" DROP CONSTRAINT "usage_bucket_hourly_key";--> statement-breakpoint
ALTER TABLE "usage_buckets" DROP CONSTRAINT "usage_buckets_natural_key";--> statement-breakpoint
ALTER TABLE "rates" ADD COLUMN "context_tier" text;--> statement-breakpoint
ALTER TABLE "rates" ADD COLUMN "inference_geo" text;--> statement-breakpoint
ALTER TABLE "rates" ADD COLUMN "unit_prices" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "usage_bucket_hourly" ADD COLUMN "usage_type" text DEFAULT 'completions' NOT NULL;--> statement-breakpoint
ALTER TABLE "usage_bucket_hourly" ADD COLUMN "context_tier" text;--> statement-breakpoint
ALTER TABLE "usage_bucket_hourly" ADD COLUMN "inference_geo" text;--> statement-breakpoint
ALTER TABLE "usage_bucket_hourly" ADD COLUMN "cache_write_1h" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "usage_bucket_hourly" ADD COLUMN "key_hash" "bytea";--> statement-breakpoint
ALTER TABLE "usage_buckets" ADD COLUMN "context_tier" text;--> statement-breakpoint
ALTER TABLE "usage_buckets" ADD COLUMN "inference_geo" text;--> statement-breakpoint
ALTER TABLE "usage_buckets" ADD COLUMN "usage_type" text DEFAULT 'completions' NOT NULL;--> statement-breakpoint
ALTER TABLE "usage_buckets" ADD COLUMN "cache_write_1h" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "usage_buckets" ADD COLUMN "shape" text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE "usage_buckets" ADD COLUMN "key_hash" "bytea";--> statement-breakpoint
ALTER TABLE "usage_event_rollups" ADD COLUMN "cache_write_1h" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "usage_events" ADD COLUMN "cache_write_1h" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "usage_resources_natural_key" ON "usage_resources" USING btree ("tenant_id","start_time","key_hash");--> statement-breakpoint
CREATE INDEX "usage_resources_overlap_idx" ON "usage_resources" USING btree ("tenant_id","provider","account_id","resource","start_time");--> statement-breakpoint
CREATE UNIQUE INDEX "usage_bucket_hourly_key" ON "usage_bucket_hourly" USING btree ("tenant_id","hour","key_hash");--> statement-breakpoint
CREATE UNIQUE INDEX "usage_buckets_natural_key" ON "usage_buckets" USING btree ("tenant_id","start_time","key_hash");--> statement-breakpoint
CREATE INDEX "usage_buckets_overlap_idx" ON "usage_buckets" USING btree ("tenant_id","provider","account_id","usage_type","start_time");--> statement-breakpoint
-- hand-written:
-- The natural key as a 32-byte hash (src/db/schema.ts, "Natural keys are stored hashed"), a stored
-- generated column so that every writer (ingest, a fix in psql) gets it. Times as epoch seconds (so
-- TimeZone never changes the hash), batch as 'true'/'false'; a JSON array keeps null apart from
-- 'null' and every part apart from its neighbours. Declared immutable: its stable parts (extract on
-- timestamptz, convert_to) do not depend on any setting for these arguments.
CREATE FUNCTION "usage_natural_key"(start_time timestamptz, end_time timestamptz, VARIADIC parts text[]) RETURNS bytea
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT sha256(convert_to(array_to_json(ARRAY[extract(epoch from start_time)::text, extract(epoch from end_time)::text] || parts)::text, 'UTF8')) $$;
--> statement-breakpoint
-- Report shapes: the bit of each grouped dimension (src/ingest/shapes.ts, SHAPE_BITS). Stored rows got
-- there under the v1.1 rule, so a shape is what their (start, end) group has non-null; a tier other
-- than default was reported, so it was grouped.
ALTER TABLE "usage_buckets" DISABLE TRIGGER USER;
--> statement-breakpoint
UPDATE usage_buckets b SET shape = g.shape
FROM (
  SELECT tenant_id, id, (bit_or((project_id IS NOT NULL)::int + 2 * (user_id IS NOT NULL)::int + 4 * (api_key_id IS NOT NULL)::int
      + 8 * (model IS NOT NULL)::int + 16 * (batch IS NOT NULL)::int + 32 * (service_tier <> 'default')::int)
    OVER (PARTITION BY tenant_id, provider, account_id, start_time, end_time))::text AS shape
  FROM usage_buckets
) g
WHERE g.tenant_id = b.tenant_id AND g.id = b.id;
--> statement-breakpoint
ALTER TABLE "usage_buckets" DROP COLUMN "key_hash";
--> statement-breakpoint
ALTER TABLE "usage_buckets" ADD COLUMN "key_hash" bytea NOT NULL GENERATED ALWAYS AS (usage_natural_key(start_time, end_time,
  provider, account_id, project_id, user_id, api_key_id, model, service_tier, batch::text, usage_type, context_tier, inference_geo)) STORED;
--> statement-breakpoint
CREATE UNIQUE INDEX "usage_buckets_natural_key" ON "usage_buckets" USING btree ("tenant_id","start_time","key_hash");
--> statement-breakpoint
ALTER TABLE "usage_resources" DROP COLUMN "key_hash";
--> statement-breakpoint
ALTER TABLE "usage_resources" ADD COLUMN "key_hash" bytea NOT NULL GENERATED ALWAYS AS (usage_natural_key(start_time, end_time,
  provider, account_id, project_id, user_id, api_key_id, model, service_tier, batch::text, context_tier, inference_geo, resource,
  attributes::text)) STORED;
--> statement-breakpoint
CREATE UNIQUE INDEX "usage_resources_natural_key" ON "usage_resources" USING btree ("tenant_id","start_time","key_hash");
--> statement-breakpoint
-- The rollup's key gains usage type, context tier and inference geo, hashed like the buckets'.
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
      usage_type, context_tier, inference_geo,
      bucket_count, requests_known, num_model_requests, input_tokens, output_tokens, in_text, in_audio, in_image,
      cached_text, cached_audio, cached_image, cache_write, cache_write_1h, out_text, out_audio, out_image)
    select tenant_id, date_trunc('hour', start_time, 'UTC'),
      usage_natural_key(date_trunc('hour', start_time, 'UTC'), date_trunc('hour', start_time, 'UTC'), provider, account_id, model, service_tier, batch::text, source, usage_type, context_tier, inference_geo),
      min(provider), min(account_id), min(model), min(service_tier), bool_and(batch), min(source),
      min(usage_type), min(context_tier), min(inference_geo),
      sum(n), sum(n * (num_model_requests is not null)::int), sum(n * coalesce(num_model_requests, 0)),
      sum(n * input_tokens), sum(n * output_tokens), sum(n * in_text), sum(n * in_audio), sum(n * in_image),
      sum(n * cached_text), sum(n * cached_audio), sum(n * cached_image), sum(n * cache_write), sum(n * cache_write_1h),
      sum(n * out_text), sum(n * out_audio), sum(n * out_image)
    from (%s) d
    group by 1, 2, 3
    order by 1, 2, 3
    on conflict (tenant_id, hour, key_hash) do update set
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
TRUNCATE usage_bucket_hourly;
--> statement-breakpoint
INSERT INTO usage_bucket_hourly (tenant_id, hour, key_hash, provider, account_id, model, service_tier, batch, source,
  usage_type, context_tier, inference_geo,
  bucket_count, requests_known, num_model_requests, input_tokens, output_tokens, in_text, in_audio, in_image,
  cached_text, cached_audio, cached_image, cache_write, cache_write_1h, out_text, out_audio, out_image)
SELECT tenant_id, date_trunc('hour', start_time, 'UTC'),
  usage_natural_key(date_trunc('hour', start_time, 'UTC'), date_trunc('hour', start_time, 'UTC'), provider, account_id, model, service_tier, batch::text, source, usage_type, context_tier, inference_geo),
  min(provider), min(account_id), min(model), min(service_tier), bool_and(batch), min(source),
  min(usage_type), min(context_tier), min(inference_geo),
  count(*), count(num_model_requests), coalesce(sum(num_model_requests), 0), sum(input_tokens), sum(output_tokens),
  sum(in_text), sum(in_audio), sum(in_image), sum(cached_text), sum(cached_audio), sum(cached_image), sum(cache_write),
  sum(cache_write_1h), sum(out_text), sum(out_audio), sum(out_image)
FROM usage_buckets
GROUP BY 1, 2, 3;
--> statement-breakpoint
ALTER TABLE "usage_bucket_hourly" ALTER COLUMN "key_hash" SET NOT NULL;
--> statement-breakpoint
ALTER TABLE "usage_buckets" ENABLE TRIGGER USER;
