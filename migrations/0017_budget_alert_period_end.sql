-- A budget's period is its start and its end: a budget switched from month to day on the 1st has periods that
-- start together, and the month's alerts kept the day's from ever being recorded. Widening the key never
-- fails on stored rows.
ALTER TABLE "budget_alerts" DROP CONSTRAINT "budget_alerts_once_key";--> statement-breakpoint
ALTER TABLE "budget_alerts" ADD CONSTRAINT "budget_alerts_once_key" UNIQUE("tenant_id","budget_id","period_start","period_end","threshold");