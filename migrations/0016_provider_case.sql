-- Provider ids are case-insensitive from this release on: every entry point folds an id's capitals to
-- lower case (src/ingest/values.ts: PROVIDER_ID, foldProvider), so `OpenAI` and `openai` are one provider
-- with one natural key. Before, buckets, resources and billed costs kept the spelling sent, so a row sent as
-- `OpenAI` was another provider's: unpriced (rate cards name ids in lower case) and counted beside the
-- same usage re-sent as `openai`. This folds the stored rows the same way (docs/consistency.md).
--
-- Only ids are folded (the rule's characters: ASCII letters, digits, `.`, `_`, `-`), with `translate`, which
-- does not depend on the database's locale (`lower` would map `I` to a dotless i under a Turkish one).
-- Names that are not ids (a space, a non-ASCII letter) are left as they are: the entry points refuse them now.
--
-- Rows that fold onto another stored row's natural key are one report sent twice under two spellings:
-- the later one (updated_at; then the one already in lower case) stays, as a re-upload would have replaced
-- it. The rollups follow the buckets through their triggers.
DELETE FROM usage_buckets b USING (
  SELECT tenant_id, start_time, id FROM (
    SELECT tenant_id, start_time, id, row_number() OVER (
        PARTITION BY tenant_id, start_time, end_time, translate(provider, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'),
          account_id, project_id, user_id, api_key_id, model, service_tier, batch, usage_type, context_tier, inference_geo
        ORDER BY updated_at DESC, provider !~ '[A-Z]' DESC, id DESC) AS n
    FROM usage_buckets
    WHERE (tenant_id, translate(provider, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')) IN (
      SELECT tenant_id, translate(provider, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') FROM usage_buckets
      WHERE provider ~ '[A-Z]' AND provider ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$')
  ) ranked WHERE n > 1
) loser
WHERE b.tenant_id = loser.tenant_id AND b.start_time = loser.start_time AND b.id = loser.id;
--> statement-breakpoint
UPDATE usage_buckets SET provider = translate(provider, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')
WHERE provider ~ '[A-Z]' AND provider ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$';
--> statement-breakpoint
DELETE FROM usage_resources b USING (
  SELECT tenant_id, start_time, id FROM (
    SELECT tenant_id, start_time, id, row_number() OVER (
        PARTITION BY tenant_id, start_time, end_time, translate(provider, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'),
          account_id, project_id, user_id, api_key_id, model, service_tier, batch, context_tier, inference_geo, resource, attributes
        ORDER BY updated_at DESC, provider !~ '[A-Z]' DESC, id DESC) AS n
    FROM usage_resources
    WHERE (tenant_id, translate(provider, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')) IN (
      SELECT tenant_id, translate(provider, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') FROM usage_resources
      WHERE provider ~ '[A-Z]' AND provider ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$')
  ) ranked WHERE n > 1
) loser
WHERE b.tenant_id = loser.tenant_id AND b.start_time = loser.start_time AND b.id = loser.id;
--> statement-breakpoint
UPDATE usage_resources SET provider = translate(provider, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')
WHERE provider ~ '[A-Z]' AND provider ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$';
--> statement-breakpoint
DELETE FROM billed_costs b USING (
  SELECT tenant_id, id FROM (
    SELECT tenant_id, id, row_number() OVER (
        PARTITION BY tenant_id, start_time, end_time, translate(provider, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'),
          account_id, project_id, api_key_id, line_item, model, token_type, service_tier, batch, context_tier
        ORDER BY updated_at DESC, provider !~ '[A-Z]' DESC, id DESC) AS n
    FROM billed_costs
    WHERE (tenant_id, translate(provider, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')) IN (
      SELECT tenant_id, translate(provider, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') FROM billed_costs
      WHERE provider ~ '[A-Z]' AND provider ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$')
  ) ranked WHERE n > 1
) loser
WHERE b.tenant_id = loser.tenant_id AND b.id = loser.id;
--> statement-breakpoint
-- A billed cost's key is computed by the server (src/billing/billed-row.ts naturalKeyHash): sha256 of
-- JSON.stringify([provider, account, start ms, end ms, project, api key, line item, model, token type,
-- service tier, batch, context tier]). The same text here: to_json escapes a string as JSON.stringify
-- does (", \, control characters as \b \t \n \f \r or \u00xx), times are whole milliseconds.
UPDATE billed_costs SET
  provider = translate(provider, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'),
  key_hash = sha256(convert_to('[' || concat_ws(',',
    to_json(translate(provider, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'))::text,
    coalesce(to_json(account_id)::text, 'null'),
    (extract(epoch from start_time) * 1000)::bigint::text,
    (extract(epoch from end_time) * 1000)::bigint::text,
    coalesce(to_json(project_id)::text, 'null'),
    coalesce(to_json(api_key_id)::text, 'null'),
    coalesce(to_json(line_item)::text, 'null'),
    coalesce(to_json(model)::text, 'null'),
    coalesce(to_json(token_type)::text, 'null'),
    coalesce(to_json(service_tier)::text, 'null'),
    coalesce(batch::text, 'null'),
    coalesce(to_json(context_tier)::text, 'null')) || ']', 'UTF8'))
WHERE provider ~ '[A-Z]' AND provider ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$';
