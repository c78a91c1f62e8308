-- The group counts of daily-rollup reads by API key, as migration 0014 gives them by project (a
-- statistics object holds at most eight columns). With the range's one rate segment a constant
-- (src/pricing/cost-sql.ts `oneSegmentSql`), TOTAL × API_KEY at 10M buckets was still sorted without
-- it; with it, estimated at 27,580 groups (13,889 real) and hash-aggregated, 1.42–1.49 s → 1.27–1.29 s
-- (docs/performance.md "the range's one rate segment"). Built by ANALYZE, as 0014's is (src/db/partitions.ts).
CREATE STATISTICS IF NOT EXISTS "usage_bucket_daily_key_ndistinct" (ndistinct)
  ON "day", "api_key_id", "provider", "model", "service_tier", "batch", "context_tier", "inference_geo"
  FROM "usage_bucket_daily";
