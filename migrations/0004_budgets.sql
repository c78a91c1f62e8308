CREATE TABLE "budget_alert_deliveries" (
	"tenant_id" text NOT NULL,
	"alert_id" text NOT NULL,
	"attempt" integer NOT NULL,
	"attempted_at" timestamp with time zone NOT NULL,
	"status_code" integer,
	"error" text,
	"duration_ms" integer NOT NULL,
	CONSTRAINT "budget_alert_deliveries_tenant_id_alert_id_attempt_pk" PRIMARY KEY("tenant_id","alert_id","attempt")
);
--> statement-breakpoint
CREATE TABLE "budget_alerts" (
	"tenant_id" text NOT NULL,
	"id" text NOT NULL,
	"budget_id" text NOT NULL,
	"period_start" timestamp with time zone NOT NULL,
	"period_end" timestamp with time zone NOT NULL,
	"threshold" integer NOT NULL,
	"amount" numeric NOT NULL,
	"spent" numeric NOT NULL,
	"crossed_at" timestamp with time zone NOT NULL,
	"delivery_status" text NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone,
	CONSTRAINT "budget_alerts_tenant_id_id_pk" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "budget_alerts_once_key" UNIQUE("tenant_id","budget_id","period_start","threshold")
);
--> statement-breakpoint
CREATE TABLE "budgets" (
	"tenant_id" text NOT NULL,
	"id" text NOT NULL,
	"name" text NOT NULL,
	"amount" numeric NOT NULL,
	"period" text NOT NULL,
	"time_zone" text NOT NULL,
	"filter" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"rate_card" text NOT NULL,
	"thresholds" integer[] NOT NULL,
	"webhook_url" text,
	"webhook_secret_sealed" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "budgets_tenant_id_id_pk" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "budgets_name_key" UNIQUE("tenant_id","name")
);
--> statement-breakpoint
ALTER TABLE "budget_alert_deliveries" ADD CONSTRAINT "budget_alert_deliveries_tenant_id_alert_id_budget_alerts_tenant_id_id_fk" FOREIGN KEY ("tenant_id","alert_id") REFERENCES "public"."budget_alerts"("tenant_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "budget_alerts" ADD CONSTRAINT "budget_alerts_tenant_id_budget_id_budgets_tenant_id_id_fk" FOREIGN KEY ("tenant_id","budget_id") REFERENCES "public"."budgets"("tenant_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "budgets" ADD CONSTRAINT "budgets_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "budget_alerts_due_idx" ON "budget_alerts" USING btree ("next_attempt_at") WHERE delivery_status = 'pending';