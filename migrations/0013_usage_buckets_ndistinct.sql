-- How many groups a base-table usage statement makes: PostgreSQL multiplies the columns' distinct counts
-- (clamped to a tenth of the rows), so HOUR × PROJECT at 1M buckets was estimated at 279,152 groups for
-- 36,000 real ones and sorted all rows on disk (185 MB) instead of hashing them. This object records the
-- distinct counts of the grouped columns together (a window's start_time and the pricing key beside the
-- project); the planner then estimates ~85,000 groups and hash-aggregates (docs/performance.md
-- "Per-page output and the base-table statement"). On a partitioned table it is built only by ANALYZE of
-- the parent (autovacuum never analyzes one): partition maintenance runs it (src/db/partitions.ts).
CREATE STATISTICS IF NOT EXISTS "usage_buckets_group_ndistinct" (ndistinct)
  ON "start_time", "project_id", "provider", "model", "service_tier", "batch", "context_tier", "inference_geo"
  FROM "usage_buckets";
