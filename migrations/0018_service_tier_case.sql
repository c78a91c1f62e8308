-- Service tiers are case-insensitive from this release on, as provider ids are (0016): every entry point folds a
-- tier's ASCII capitals (src/ingest/values.ts: normaliseTier, foldCapitals) before the tier rule, so `Flex` is
-- `flex`, `Standard` and `Auto` are `default`, and `Batch` is the batch flag on the default tier. Before, events
-- lowercased their tier but buckets, resources and billed costs kept the text as sent: a bucket of tier `Default`
-- was unpriced (rate cards name tiers in lower case), missed by `serviceTiers: ["default"]`, and a re-upload of
-- the same report as `default` sat beside it — counted twice. This folds the stored rows by the same rule.
--
-- `translate`, not `lower`: it does not depend on the database's locale, and the server folds only ASCII
-- capitals too, so both agree on every text. Events were stored lower-cased already and are left.
--
-- Rows that fold onto another stored row's natural key are one report sent twice: the later one (updated_at;
-- then the one already folded) stays, as a re-upload would have replaced it. The rollups follow the buckets
-- through their triggers.
DELETE FROM usage_buckets b USING (
  SELECT tenant_id, start_time, id FROM (
    SELECT tenant_id, start_time, id, row_number() OVER (
        PARTITION BY tenant_id, start_time, end_time, provider, account_id, project_id, user_id, api_key_id, model,
          CASE WHEN translate(service_tier, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') IN ('standard', 'auto', 'batch') THEN 'default' ELSE translate(service_tier, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') END,
          CASE WHEN translate(service_tier, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') = 'batch' THEN true ELSE batch END,
          usage_type, context_tier, inference_geo
        ORDER BY updated_at DESC, service_tier !~ '[A-Z]' DESC, id DESC) AS n
    FROM usage_buckets
    WHERE (tenant_id, start_time) IN (SELECT tenant_id, start_time FROM usage_buckets WHERE service_tier ~ '[A-Z]')
  ) ranked WHERE n > 1
) loser
WHERE b.tenant_id = loser.tenant_id AND b.start_time = loser.start_time AND b.id = loser.id;
--> statement-breakpoint
UPDATE usage_buckets SET
  service_tier = CASE WHEN translate(service_tier, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') IN ('standard', 'auto', 'batch') THEN 'default' ELSE translate(service_tier, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') END,
  batch = CASE WHEN translate(service_tier, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') = 'batch' THEN true ELSE batch END
WHERE service_tier ~ '[A-Z]';
--> statement-breakpoint
DELETE FROM usage_resources b USING (
  SELECT tenant_id, start_time, id FROM (
    SELECT tenant_id, start_time, id, row_number() OVER (
        PARTITION BY tenant_id, start_time, end_time, provider, account_id, project_id, user_id, api_key_id, model,
          CASE WHEN translate(service_tier, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') IN ('standard', 'auto', 'batch') THEN 'default' ELSE translate(service_tier, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') END,
          CASE WHEN translate(service_tier, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') = 'batch' THEN true ELSE batch END,
          context_tier, inference_geo, resource, attributes
        ORDER BY updated_at DESC, service_tier !~ '[A-Z]' DESC, id DESC) AS n
    FROM usage_resources
    WHERE (tenant_id, start_time) IN (SELECT tenant_id, start_time FROM usage_resources WHERE service_tier ~ '[A-Z]')
  ) ranked WHERE n > 1
) loser
WHERE b.tenant_id = loser.tenant_id AND b.start_time = loser.start_time AND b.id = loser.id;
--> statement-breakpoint
UPDATE usage_resources SET
  service_tier = CASE WHEN translate(service_tier, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') IN ('standard', 'auto', 'batch') THEN 'default' ELSE translate(service_tier, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') END,
  batch = CASE WHEN translate(service_tier, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') = 'batch' THEN true ELSE batch END
WHERE service_tier ~ '[A-Z]';
--> statement-breakpoint
DELETE FROM billed_costs b USING (
  SELECT tenant_id, id FROM (
    SELECT tenant_id, id, row_number() OVER (
        PARTITION BY tenant_id, start_time, end_time, provider, account_id, project_id, api_key_id, line_item, model, token_type,
          CASE WHEN translate(service_tier, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') IN ('standard', 'auto', 'batch') THEN 'default' ELSE translate(service_tier, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') END,
          CASE WHEN translate(service_tier, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') = 'batch' THEN true ELSE batch END,
          context_tier
        ORDER BY updated_at DESC, service_tier !~ '[A-Z]' DESC, id DESC) AS n
    FROM billed_costs
    WHERE (tenant_id, start_time) IN (SELECT tenant_id, start_time FROM billed_costs WHERE service_tier ~ '[A-Z]')
  ) ranked WHERE n > 1
) loser
WHERE b.tenant_id = loser.tenant_id AND b.id = loser.id;
--> statement-breakpoint
-- A billed cost's key is computed by the server (src/billing/billed-row.ts naturalKeyHash), as in 0016: sha256 of
-- JSON.stringify of its key fields, here with to_json (which escapes as JSON.stringify does) over the folded tier.
UPDATE billed_costs SET
  service_tier = f.tier,
  batch = f.batch,
  key_hash = sha256(convert_to('[' || concat_ws(',',
    to_json(provider)::text,
    coalesce(to_json(account_id)::text, 'null'),
    (extract(epoch from start_time) * 1000)::bigint::text,
    (extract(epoch from end_time) * 1000)::bigint::text,
    coalesce(to_json(project_id)::text, 'null'),
    coalesce(to_json(api_key_id)::text, 'null'),
    coalesce(to_json(line_item)::text, 'null'),
    coalesce(to_json(model)::text, 'null'),
    coalesce(to_json(token_type)::text, 'null'),
    to_json(f.tier)::text,
    coalesce(f.batch::text, 'null'),
    coalesce(to_json(context_tier)::text, 'null')) || ']', 'UTF8'))
FROM (
  SELECT tenant_id, id,
    CASE WHEN translate(service_tier, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') IN ('standard', 'auto', 'batch') THEN 'default' ELSE translate(service_tier, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') END AS tier,
    CASE WHEN translate(service_tier, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') = 'batch' THEN true ELSE batch END AS batch
  FROM billed_costs WHERE service_tier ~ '[A-Z]'
) f
WHERE billed_costs.tenant_id = f.tenant_id AND billed_costs.id = f.id;
