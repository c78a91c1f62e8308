-- Events carry context_tier and inference_geo like every other usage row (contract v2 "Counters and
-- dimensions, extended"): the raw events, their resources and the hourly event rollup gain both columns,
-- and the rollup's key hash covers them (after batch), so events of two tiers in one hour stay apart.
-- Existing rows have both null; their rollup keys are rehashed the new way when the column is re-added.
ALTER TABLE "usage_events" ADD COLUMN "context_tier" text;--> statement-breakpoint
ALTER TABLE "usage_events" ADD COLUMN "inference_geo" text;--> statement-breakpoint
ALTER TABLE "usage_event_resources" ADD COLUMN "context_tier" text;--> statement-breakpoint
ALTER TABLE "usage_event_resources" ADD COLUMN "inference_geo" text;--> statement-breakpoint
ALTER TABLE "usage_event_rollups" ADD COLUMN "context_tier" text;--> statement-breakpoint
ALTER TABLE "usage_event_rollups" ADD COLUMN "inference_geo" text;--> statement-breakpoint
ALTER TABLE "usage_event_rollups" DROP CONSTRAINT "usage_event_rollups_key";--> statement-breakpoint
ALTER TABLE "usage_event_rollups" DROP COLUMN "key_hash";--> statement-breakpoint
ALTER TABLE "usage_event_rollups" ADD COLUMN "key_hash" "bytea" GENERATED ALWAYS AS (sha256(decode(replace(coalesce(length("provider")::text || ':' || "provider", '-') || coalesce(length("account_id")::text || ':' || "account_id", '-') || coalesce(length("project_id")::text || ':' || "project_id", '-') || coalesce(length("user_id")::text || ':' || "user_id", '-') || coalesce(length("api_key_id")::text || ':' || "api_key_id", '-') || coalesce(length("model")::text || ':' || "model", '-') || coalesce(length("service_tier")::text || ':' || "service_tier", '-') || coalesce("batch"::text, '-') || coalesce(length("context_tier")::text || ':' || "context_tier", '-') || coalesce(length("inference_geo")::text || ':' || "inference_geo", '-') || coalesce(length("endpoint")::text || ':' || "endpoint", '-') || coalesce(length("request_type")::text || ':' || "request_type", '-') || coalesce(length("session_id")::text || ':' || "session_id", '-') || coalesce(length("employee_id")::text || ':' || "employee_id", '-') || coalesce(length("agent_id")::text || ':' || "agent_id", '-') || "labels"::text, '\', '\\'), 'escape'))) STORED NOT NULL;--> statement-breakpoint
ALTER TABLE "usage_event_rollups" ADD CONSTRAINT "usage_event_rollups_key" UNIQUE("tenant_id","hour","key_hash");
