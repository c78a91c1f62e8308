-- An alert stands for its threshold at the amount it was recorded with: a budget raised mid-period alerts
-- again when the spend reaches a threshold of the new amount. Widening the key never fails on stored rows.
ALTER TABLE "budget_alerts" DROP CONSTRAINT "budget_alerts_once_key";--> statement-breakpoint
ALTER TABLE "budget_alerts" ADD CONSTRAINT "budget_alerts_once_key" UNIQUE("tenant_id","budget_id","period_start","period_end","threshold","amount");