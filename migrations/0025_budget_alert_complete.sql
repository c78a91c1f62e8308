-- An alert keeps whether its spend counted every usage at a price (false: unpriced usage was left out, the
-- spend is a lower bound). Alerts recorded before this migration hold null: not known.
ALTER TABLE "budget_alerts" ADD COLUMN "complete" boolean;