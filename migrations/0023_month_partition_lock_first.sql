-- tokenledger_month_partition (migration 0007) looked for the month's rows in the default partition
-- before it held the partitioned table's lock, which only its CREATE TABLE … PARTITION OF took. A write
-- of that month committing in between was not seen: the month was created without moving the row,
-- PostgreSQL refused to leave it in the default partition ("updated partition constraint for default
-- partition would be violated"), and the whole maintenance run rolled back (the next tick fixed it).
-- Now the table's ACCESS EXCLUSIVE lock (the one the CREATE takes anyway, under maintenance's lock
-- timeout) is taken first, so the check and the creation see the same rows. A month that already
-- exists still returns at once, without any lock: that is every tick but the first of a month.
CREATE OR REPLACE FUNCTION "tokenledger_month_partition"(tbl text, col text, month timestamptz) RETURNS text LANGUAGE plpgsql AS $$
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
  EXECUTE format('LOCK TABLE %I IN ACCESS EXCLUSIVE MODE', tbl);
  -- Under the lock: a caller that does not serialise on maintenance's advisory lock may have created it.
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
