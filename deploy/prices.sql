-- Model prices, USD per million tokens. Run with psql against the triaged
-- database (as the migration owner or a role allowed to write model_prices).
--
-- A price change is a new row with the date it takes effect; old calls keep
-- the price they were charged with. To re-price calls after a correction:
--   SELECT triaged_recompute_costs('2026-11-01', '2026-12-01');
--
-- Migration 003 seeds the OpenAI list prices of the default models. Add the
-- models you use (the name must equal mini.model / flagship.model):

INSERT INTO model_prices (model, effective_from, input_per_mtok, cached_input_per_mtok,
                          output_per_mtok, note)
VALUES
    -- ('my-vllm-model', '2026-01-01', 0.00, 0.00, 0.00, 'self-hosted: no per-token price'),
    ('gpt-4o-mini', '2024-07-18', 0.15, 0.075, 0.60, 'OpenAI list price')
ON CONFLICT (model, effective_from) DO UPDATE
    SET input_per_mtok = EXCLUDED.input_per_mtok,
        cached_input_per_mtok = EXCLUDED.cached_input_per_mtok,
        output_per_mtok = EXCLUDED.output_per_mtok,
        note = EXCLUDED.note;

-- Daily budgets (UTC days), shared by every instance; enforced when
-- budget.enforce = true. A NULL model covers every model of the tier.
--   INSERT INTO budgets (tier, model, daily_limit_usd) VALUES ('flagship', NULL, 25.00);
--   INSERT INTO budgets (tier, model, daily_limit_usd) VALUES ('mini', NULL, 10.00);
-- Today's use: SELECT * FROM metrics_budget WHERE day = current_date;
