CREATE TABLE "admin_tokens" (
	"id" integer PRIMARY KEY NOT NULL,
	"token_hash" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "api_keys" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"name" text NOT NULL,
	"key_hash" text NOT NULL,
	"scopes" text[] NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"revoked_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "rate_cards" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"tenant_id" text,
	"description" text,
	"currency" text DEFAULT 'USD' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "rates" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"card_id" bigint NOT NULL,
	"provider" text NOT NULL,
	"model" text NOT NULL,
	"service_tier" text NOT NULL,
	"batch" boolean NOT NULL,
	"effective_from" timestamp with time zone NOT NULL,
	"effective_to" timestamp with time zone,
	"input" numeric,
	"cached_input" numeric,
	"cache_write" numeric,
	"cache_write_1h" numeric,
	"output" numeric,
	"input_audio" numeric,
	"cached_input_audio" numeric,
	"output_audio" numeric,
	"input_image" numeric,
	"cached_input_image" numeric,
	"output_image" numeric,
	"supersedes" bigint,
	"source" text,
	"recorded_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "rates_effective_order" CHECK ("rates"."effective_to" is null or "rates"."effective_to" > "rates"."effective_from")
);
--> statement-breakpoint
CREATE TABLE "tenants" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "usage_buckets" (
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
	"num_model_requests" bigint,
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
	"source" text NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "usage_buckets_tenant_id_id_pk" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "usage_buckets_natural_key" UNIQUE NULLS NOT DISTINCT("tenant_id","provider","account_id","start_time","end_time","project_id","user_id","api_key_id","model","service_tier","batch"),
	CONSTRAINT "usage_buckets_time_order" CHECK ("usage_buckets"."end_time" > "usage_buckets"."start_time")
);
--> statement-breakpoint
CREATE TABLE "usage_event_ids" (
	"tenant_id" text NOT NULL,
	"id" text NOT NULL,
	"content_hash" text NOT NULL,
	"timestamp" timestamp with time zone NOT NULL,
	CONSTRAINT "usage_event_ids_tenant_id_id_pk" PRIMARY KEY("tenant_id","id")
);
--> statement-breakpoint
CREATE TABLE "usage_event_rollups" (
	"tenant_id" text NOT NULL,
	"hour" timestamp with time zone NOT NULL,
	"provider" text NOT NULL,
	"account_id" text,
	"project_id" text,
	"user_id" text,
	"api_key_id" text,
	"model" text NOT NULL,
	"service_tier" text NOT NULL,
	"batch" boolean,
	"endpoint" text,
	"request_type" text,
	"session_id" text,
	"employee_id" text,
	"agent_id" text,
	"labels" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"num_model_requests" bigint,
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
	"reported_cost" numeric,
	CONSTRAINT "usage_event_rollups_key" UNIQUE NULLS NOT DISTINCT("tenant_id","hour","provider","account_id","project_id","user_id","api_key_id","model","service_tier","batch","endpoint","request_type","session_id","employee_id","agent_id","labels")
);
--> statement-breakpoint
CREATE TABLE "usage_events" (
	"tenant_id" text NOT NULL,
	"id" text NOT NULL,
	"timestamp" timestamp with time zone NOT NULL,
	"provider" text NOT NULL,
	"account_id" text,
	"project_id" text,
	"user_id" text,
	"api_key_id" text,
	"model" text NOT NULL,
	"service_tier" text NOT NULL,
	"batch" boolean,
	"endpoint" text,
	"request_type" text,
	"session_id" text,
	"employee_id" text,
	"agent_id" text,
	"labels" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"metadata" jsonb,
	"reported_cost" numeric,
	"reasoning_tokens" bigint,
	"num_model_requests" bigint,
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
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "usage_events_tenant_id_timestamp_id_pk" PRIMARY KEY("tenant_id","timestamp","id")
);
--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rate_cards" ADD CONSTRAINT "rate_cards_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rates" ADD CONSTRAINT "rates_card_id_rate_cards_id_fk" FOREIGN KEY ("card_id") REFERENCES "public"."rate_cards"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "api_keys_key_hash_key" ON "api_keys" USING btree ("key_hash");--> statement-breakpoint
CREATE INDEX "api_keys_tenant_idx" ON "api_keys" USING btree ("tenant_id");--> statement-breakpoint
CREATE UNIQUE INDEX "rate_cards_name_key" ON "rate_cards" USING btree ("name");--> statement-breakpoint
CREATE INDEX "rates_card_model_idx" ON "rates" USING btree ("card_id","provider","model","service_tier","batch","effective_from");--> statement-breakpoint
CREATE INDEX "usage_buckets_tenant_time_idx" ON "usage_buckets" USING btree ("tenant_id","start_time");--> statement-breakpoint
CREATE INDEX "usage_events_session_idx" ON "usage_events" USING btree ("tenant_id","session_id","timestamp");