-- Monthly range partitioning of the raw tables: usage_buckets and usage_resources by start_time,
-- usage_events by timestamp (docs/scale-out.md "Time partitioning"). drizzle-kit generated only the
-- primary-key change (a unique key of a partitioned table must contain the partition key); the rest is
-- hand-written, since drizzle does not model partitioning. Each table is rebuilt: the old one is renamed,
-- a partitioned one takes its name (same columns, defaults, generated key_hash, checks, sequence), its
-- rows move over, every index is rebuilt and the rollup triggers move to the new table. The rollups,
-- the event id ledger and everything else are untouched.
--
-- tokenledger_month_partition creates the partition of one UTC month and is what the server calls
-- ahead of time (src/db/partitions.ts): one definition of the partition name and bounds. A default
-- partition catches rows of any month without a partition, so no write fails for lack of one; when a
-- month's partition is created later, rows of that month move out of the default into it. Rows are
-- moved by naming the partitions, which does not fire the parent's statement triggers, so the hourly
-- rollup (whose totals do not change) is left alone.
CREATE FUNCTION "tokenledger_month_partition"(tbl text, col text, month timestamptz) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  lo timestamptz := date_trunc('month', month AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
  hi timestamptz := (date_trunc('month', month AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC';
  part text := tbl || '_p' || to_char(month AT TIME ZONE 'UTC', 'YYYYMM');
  def text := tbl || '_default';
  moving boolean := false;
  cols text;
BEGIN
  IF to_regclass(quote_ident(part)) IS NOT NULL THEN
    RETURN NULL;
  END IF;
  IF to_regclass(quote_ident(def)) IS NOT NULL THEN
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I WHERE %I >= $1 AND %I < $2)', def, col, col) INTO moving USING lo, hi;
  END IF;
  IF NOT moving THEN
    EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)', part, tbl, lo, hi);
    RETURN part;
  END IF;
  -- The month has rows in the default partition, which PostgreSQL would refuse to leave there:
  -- detach the default, create the month, move its rows (every column but the generated ones), reattach.
  SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO cols
  FROM pg_attribute WHERE attrelid = tbl::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = '';
  EXECUTE format('ALTER TABLE %I DETACH PARTITION %I', tbl, def);
  EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)', part, tbl, lo, hi);
  EXECUTE format('INSERT INTO %I (%s) SELECT %s FROM %I WHERE %I >= $1 AND %I < $2', part, cols, cols, def, col, col) USING lo, hi;
  EXECUTE format('DELETE FROM %I WHERE %I >= $1 AND %I < $2', def, col, col) USING lo, hi;
  EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I DEFAULT', tbl, def);
  RETURN part;
END $$;
--> statement-breakpoint
-- Rebuilds one table as a partitioned one (used by this migration only, dropped at its end).
CREATE FUNCTION "tokenledger_partition_table"(tbl text, col text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  old text := tbl || '_unpartitioned';
  cols text;
  seq text := pg_get_serial_sequence(tbl, 'id');
BEGIN
  EXECUTE format('ALTER TABLE %I RENAME TO %I', tbl, old);
  EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING GENERATED INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMPRESSION) PARTITION BY RANGE (%I)', tbl, old, col);
  -- The id sequence would go with the old table: the new one owns it (ids continue where they were).
  IF seq IS NOT NULL THEN
    EXECUTE format('ALTER SEQUENCE %s OWNED BY %I.id', seq, tbl);
  END IF;
  EXECUTE format('CREATE TABLE %I PARTITION OF %I DEFAULT', tbl || '_default', tbl);
  EXECUTE format('SELECT count(tokenledger_month_partition(%L, %L, m)) FROM (SELECT DISTINCT date_trunc(''month'', %I AT TIME ZONE ''UTC'') AT TIME ZONE ''UTC'' AS m FROM %I) months',
    tbl, col, col, old);
  SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO cols
  FROM pg_attribute WHERE attrelid = tbl::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = '';
  EXECUTE format('INSERT INTO %I (%s) SELECT %s FROM %I', tbl, cols, cols, old);
  -- Drops the old indexes, primary key and triggers with it; they are recreated below.
  EXECUTE format('DROP TABLE %I', old);
END $$;
--> statement-breakpoint
SELECT tokenledger_partition_table('usage_buckets', 'start_time');
--> statement-breakpoint
SELECT tokenledger_partition_table('usage_resources', 'start_time');
--> statement-breakpoint
SELECT tokenledger_partition_table('usage_events', 'timestamp');
--> statement-breakpoint
DROP FUNCTION tokenledger_partition_table(text, text);
--> statement-breakpoint
ALTER TABLE "usage_buckets" ADD CONSTRAINT "usage_buckets_tenant_id_start_time_id_pk" PRIMARY KEY("tenant_id","start_time","id");--> statement-breakpoint
CREATE UNIQUE INDEX "usage_buckets_natural_key" ON "usage_buckets" USING btree ("tenant_id","start_time","key_hash");--> statement-breakpoint
CREATE INDEX "usage_buckets_overlap_idx" ON "usage_buckets" USING btree ("tenant_id","provider","account_id","usage_type","start_time");--> statement-breakpoint
CREATE INDEX "usage_buckets_tenant_time_idx" ON "usage_buckets" USING btree ("tenant_id","start_time");--> statement-breakpoint
ALTER TABLE "usage_resources" ADD CONSTRAINT "usage_resources_tenant_id_start_time_id_pk" PRIMARY KEY("tenant_id","start_time","id");--> statement-breakpoint
CREATE UNIQUE INDEX "usage_resources_natural_key" ON "usage_resources" USING btree ("tenant_id","start_time","key_hash");--> statement-breakpoint
CREATE INDEX "usage_resources_overlap_idx" ON "usage_resources" USING btree ("tenant_id","provider","account_id","resource","start_time");--> statement-breakpoint
ALTER TABLE "usage_events" ADD CONSTRAINT "usage_events_tenant_id_timestamp_id_pk" PRIMARY KEY("tenant_id","timestamp","id");--> statement-breakpoint
CREATE INDEX "usage_events_session_idx" ON "usage_events" USING btree ("tenant_id","session_id","timestamp");--> statement-breakpoint
-- The hourly rollup triggers (migrations 0001, 0003), now on the partitioned table. Statement-level
-- triggers with transition tables on a partitioned table see the rows of every partition a statement
-- touches (PostgreSQL 10+), including rows an UPDATE moves from one partition to another.
CREATE TRIGGER "usage_bucket_hourly_insert" AFTER INSERT ON "usage_buckets"
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "usage_bucket_hourly_maintain"();
--> statement-breakpoint
CREATE TRIGGER "usage_bucket_hourly_update" AFTER UPDATE ON "usage_buckets"
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "usage_bucket_hourly_maintain"();
--> statement-breakpoint
CREATE TRIGGER "usage_bucket_hourly_delete" AFTER DELETE ON "usage_buckets"
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION "usage_bucket_hourly_maintain"();
--> statement-breakpoint
CREATE TRIGGER "usage_bucket_hourly_truncate" AFTER TRUNCATE ON "usage_buckets"
  FOR EACH STATEMENT EXECUTE FUNCTION "usage_bucket_hourly_truncate"();
