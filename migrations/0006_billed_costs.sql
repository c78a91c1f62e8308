CREATE TABLE "billed_costs" (
	"tenant_id" text NOT NULL,
	"id" bigserial NOT NULL,
	"provider" text NOT NULL,
	"account_id" text,
	"start_time" timestamp with time zone NOT NULL,
	"end_time" timestamp with time zone NOT NULL,
	"project_id" text,
	"api_key_id" text,
	"line_item" text,
	"model" text,
	"token_type" text,
	"cost_type" text,
	"service_tier" text,
	"batch" boolean,
	"context_tier" text,
	"inference_geo" text,
	"amount" numeric NOT NULL,
	"currency" text NOT NULL,
	"quantity" numeric,
	"quantity_unit" text,
	"shape" text NOT NULL,
	"key_hash" "bytea" NOT NULL,
	"source" text NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "billed_costs_tenant_id_id_pk" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "billed_costs_time_order" CHECK ("billed_costs"."end_time" > "billed_costs"."start_time")
);
--> statement-breakpoint
CREATE UNIQUE INDEX "billed_costs_natural_key" ON "billed_costs" USING btree ("tenant_id","start_time","key_hash");--> statement-breakpoint
CREATE INDEX "billed_costs_overlap_idx" ON "billed_costs" USING btree ("tenant_id","provider","account_id","start_time");