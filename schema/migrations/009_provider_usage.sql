-- 009: model providers (issue #11). Per call: the reasoning tokens the
-- provider reported (usage.completion_tokens_details.reasoning_tokens; part
-- of completion_tokens, so priced as output: the daemon adds them when a
-- provider reports them apart), the request dialect and structured-output
-- mode in use, and the provider's error type, code and param (the message
-- goes to error, as before), each cut to 64 characters by the daemon.
-- triaged_record_calls (functions/) writes the new columns.

ALTER TABLE model_calls
    ADD COLUMN reasoning_tokens integer NOT NULL DEFAULT 0,
    ADD COLUMN dialect          text,
    ADD COLUMN response_mode    text,
    ADD COLUMN error_type       text,
    ADD COLUMN error_code       text,
    ADD COLUMN error_param      text;

-- Current list prices of the GPT-5.x models the README names (see deploy/prices.sql for others).
INSERT INTO model_prices (model, effective_from, input_per_mtok, cached_input_per_mtok,
                          output_per_mtok, note) VALUES
    ('gpt-5.4-mini', '2026-03-17', 0.75, 0.075, 4.50, 'seed: OpenAI list price'),
    ('gpt-5.4',      '2026-03-05', 2.50, 0.25, 15.00, 'seed: OpenAI list price')
ON CONFLICT (model, effective_from) DO NOTHING;
