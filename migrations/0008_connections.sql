CREATE TABLE "connections" (
	"tenant_id" text NOT NULL,
	"id" text NOT NULL,
	"name" text NOT NULL,
	"provider" text NOT NULL,
	"admin_key_sealed" text NOT NULL,
	"admin_key_last4" text NOT NULL,
	"account_id" text,
	"base_url" text NOT NULL,
	"start_date" timestamp with time zone NOT NULL,
	"interval_minutes" integer NOT NULL,
	"lag_hours" integer NOT NULL,
	"bucket_width" text NOT NULL,
	"endpoints" jsonb NOT NULL,
	"enabled" boolean DEFAULT true NOT NULL,
	"synced_until" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"next_run_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_run" jsonb,
	"lease_owner" text,
	"lease_until" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "connections_tenant_id_id_pk" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "connections_name_key" UNIQUE("tenant_id","name")
);
--> statement-breakpoint
ALTER TABLE "connections" ADD CONSTRAINT "connections_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "connections_due_idx" ON "connections" USING btree ("next_run_at");