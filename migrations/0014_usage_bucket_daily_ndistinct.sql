-- The group counts of daily-rollup reads, as migration 0013 gives them for the base table: without it,
-- TOTAL × PROJECT at 10M buckets (416,670 daily rows → 50 groups) was estimated at 243,712 groups and
-- sorted and group-aggregated (1,033 ms) instead of hash-aggregated (541 ms; docs/performance.md "The
-- query matrix at 10M after this round"). Built by ANALYZE, which partition maintenance runs for the
-- rollups too (src/db/partitions.ts), autovacuum or not.
CREATE STATISTICS IF NOT EXISTS "usage_bucket_daily_group_ndistinct" (ndistinct)
  ON "day", "project_id", "provider", "model", "service_tier", "batch", "context_tier", "inference_geo"
  FROM "usage_bucket_daily";
