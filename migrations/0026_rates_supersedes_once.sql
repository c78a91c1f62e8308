-- A rate is superseded at most once (per card): the writers already refuse a second superseder under the
-- card's lock (src/pricing/rate-checks.ts, the catalog import); the database now holds it for any writer.
CREATE UNIQUE INDEX "rates_supersedes_once" ON "rates" USING btree ("card_id","supersedes") WHERE "rates"."supersedes" is not null;