-- tokenledger_month_partition writes a month's bounds into CREATE TABLE … FOR VALUES FROM (%L) TO (%L) as
-- text, in the session's DateStyle and TimeZone. With DateStyle SQL, German or Postgres a zone prints as
-- its abbreviation, which PostgreSQL reads back through timezone_abbreviations: under Asia/Kolkata
-- '01/02/2035 05:30:00 IST' came back as Israel time (+02), and the month partitions started 3 h 30 min
-- late (rows of a month's first hours went to the previous month, and with it at retention). The
-- function now runs in UTC and ISO whatever the session or database sets, so the text is unambiguous.
ALTER FUNCTION "tokenledger_month_partition"(text, text, timestamptz) SET "TimeZone" = 'UTC';
--> statement-breakpoint
ALTER FUNCTION "tokenledger_month_partition"(text, text, timestamptz) SET "DateStyle" = 'ISO, YMD';
