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
    ('gpt-4o-mini', '2024-07-18', 0.15, 0.075, 0.60, 'OpenAI list price'),
    -- Providers (issue #11). Reasoning and thinking tokens are billed as output: they are
    -- part of completion_tokens (the daemon adds them when a provider reports them apart).
    ('gpt-5.4-mini', '2026-03-17', 0.75, 0.075, 4.50, 'OpenAI list price'),
    ('gpt-5.4', '2026-03-05', 2.50, 0.25, 15.00, 'OpenAI list price'),
    -- Gemini's cached price is its context-cache read price; check ai.google.dev/pricing
    -- (0.30 / 2.50 seen in pages citing it, not on Google's own page: unconfirmed).
    ('gemini-2.5-flash', '2025-06-17', 0.30, 0.03, 2.50, 'Google list price (<= 200k prompt)'),
    -- Claude: cache reads at 0.1x input; the OpenAI-compatible endpoint does not cache.
    -- 1.00 / 5.00 confirmed on Anthropic's Haiku 4.5 model page (now a legacy model).
    ('claude-haiku-4-5', '2025-10-15', 1.00, 0.10, 5.00, 'Anthropic list price')
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
