-- A rate's recorded_at is kept to the millisecond, as every instant is answered and read (the writer stamps
-- date_trunc('milliseconds', statement_timestamp()) from this release on). Rates stamped before kept the
-- microseconds, so pricingAsOf at the recorded_at a rate was answered with (its millisecond) left that rate
-- out. Truncating makes each stored stamp the one the API has always shown for it.
UPDATE rates SET recorded_at = date_trunc('milliseconds', recorded_at)
WHERE recorded_at <> date_trunc('milliseconds', recorded_at);
