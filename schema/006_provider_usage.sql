-- 006: model providers (issue #11). Per call: the reasoning tokens the
-- provider reported (usage.completion_tokens_details.reasoning_tokens; part
-- of completion_tokens, so priced as output: the daemon adds them when a
-- provider reports them apart), the request dialect and structured-output
-- mode in use, and the provider's error type, code and param (the message
-- goes to error, as before), each cut to 64 characters by the daemon.
-- The two call-recording functions are re-created with the new columns
-- (same signatures, so CREATE OR REPLACE keeps their grants).

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

-- Record calls one by one (the budget path): as in 003, with the 006 columns.
CREATE OR REPLACE FUNCTION triaged_record_calls(batch jsonb)
RETURNS TABLE (idx integer, call_id bigint, cost_usd numeric)
LANGUAGE plpgsql AS $$
DECLARE
    c    jsonb;
    i    integer := 0;
    p    model_prices;
    st   timestamptz;
    cid  bigint;
    cost numeric;
    res  numeric;
BEGIN
    FOR c IN SELECT value FROM jsonb_array_elements(batch) LOOP
        st := to_timestamp((c->>'started_ms')::double precision / 1000);
        p := triaged_price_at(c->>'model', st);
        cost := triaged_cost(p, coalesce((c->>'prompt_tokens')::integer, 0),
                             coalesce((c->>'cached_tokens')::integer, 0),
                             coalesce((c->>'completion_tokens')::integer, 0));
        res := coalesce((c->>'reserved_usd')::numeric, 0);
        INSERT INTO model_calls AS mc (ticket_pk, revision, seq, tier, purpose, model,
                prompt_version, outcome, error, http_status, attempts, retries_429,
                prompt_tokens, completion_tokens, cached_tokens, latency_ms, total_ms,
                started_at, finished_at, answer, price_id, cost_usd, reserved_usd,
                reasoning_tokens, dialect, response_mode, error_type, error_code, error_param)
        VALUES ((c->>'ticket_pk')::bigint, (c->>'revision')::integer, (c->>'seq')::integer,
                c->>'tier', c->>'purpose', c->>'model', c->>'prompt_version', c->>'outcome',
                c->>'error', (c->>'http_status')::integer, (c->>'attempts')::integer,
                coalesce((c->>'retries_429')::integer, 0),
                coalesce((c->>'prompt_tokens')::integer, 0),
                coalesce((c->>'completion_tokens')::integer, 0),
                coalesce((c->>'cached_tokens')::integer, 0),
                (c->>'latency_ms')::double precision, (c->>'total_ms')::double precision,
                st, to_timestamp((c->>'finished_ms')::double precision / 1000),
                c->>'answer', p.id, cost, res,
                coalesce((c->>'reasoning_tokens')::integer, 0), c->>'dialect',
                c->>'response_mode', c->>'error_type', c->>'error_code', c->>'error_param')
        ON CONFLICT (ticket_pk, revision, seq) DO NOTHING
        RETURNING mc.id INTO cid;
        IF cid IS NOT NULL AND c->>'budget_id' IS NOT NULL THEN
            UPDATE budget_usage bu
               SET reserved_usd = greatest(bu.reserved_usd - res, 0),
                   spent_usd = bu.spent_usd + coalesce(cost, 0)
             WHERE bu.budget_id = (c->>'budget_id')::bigint
               AND bu.day = (now() AT TIME ZONE 'UTC')::date;
        END IF;
        idx := i; call_id := cid; cost_usd := cost;
        RETURN NEXT;
        cid := NULL;
        i := i + 1;
    END LOOP;
END
$$;

-- Record calls in one INSERT: as in 005, with the 006 columns.
CREATE OR REPLACE FUNCTION triaged_record_calls_v2(batch jsonb)
RETURNS TABLE (idx integer, call_id bigint, cost_usd numeric)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
    IF EXISTS (SELECT 1 FROM jsonb_array_elements(batch) AS e(v)
                WHERE e.v->>'budget_id' IS NOT NULL) THEN
        RETURN QUERY SELECT r.idx, r.call_id, r.cost_usd FROM triaged_record_calls(batch) r;
        RETURN;
    END IF;
    RETURN QUERY
    WITH input AS (
        SELECT (x.ordinality - 1)::integer AS i, x.*,
               to_timestamp(x.started_ms / 1000) AS st
          FROM ROWS FROM (jsonb_to_recordset(batch) AS (ticket_pk bigint, revision integer,
               seq integer, tier text, purpose text, model text, prompt_version text,
               outcome text, error text, http_status integer, attempts integer,
               retries_429 integer, prompt_tokens integer, completion_tokens integer,
               cached_tokens integer, latency_ms double precision, total_ms double precision,
               started_ms double precision, finished_ms double precision, answer text,
               reserved_usd numeric, reasoning_tokens integer, dialect text,
               response_mode text, error_type text, error_code text, error_param text))
               WITH ORDINALITY AS x),
    priced AS (
        SELECT input.*, p.id AS price_id,
               triaged_cost(p, coalesce(input.prompt_tokens, 0),
                            coalesce(input.cached_tokens, 0),
                            coalesce(input.completion_tokens, 0)) AS cost
          FROM input CROSS JOIN LATERAL triaged_price_at(input.model, input.st) AS p),
    ins AS (
        INSERT INTO model_calls AS mc (ticket_pk, revision, seq, tier, purpose, model,
                prompt_version, outcome, error, http_status, attempts, retries_429,
                prompt_tokens, completion_tokens, cached_tokens, latency_ms, total_ms,
                started_at, finished_at, answer, price_id, cost_usd, reserved_usd,
                reasoning_tokens, dialect, response_mode, error_type, error_code, error_param)
        SELECT ticket_pk, revision, seq, tier, purpose, model, prompt_version, outcome, error,
               http_status, attempts, coalesce(retries_429, 0), coalesce(prompt_tokens, 0),
               coalesce(completion_tokens, 0), coalesce(cached_tokens, 0), latency_ms,
               total_ms, st, to_timestamp(finished_ms / 1000), answer, price_id, cost,
               coalesce(reserved_usd, 0), coalesce(reasoning_tokens, 0), dialect,
               response_mode, error_type, error_code, error_param
          FROM priced ORDER BY i
        ON CONFLICT (ticket_pk, revision, seq) DO NOTHING
        RETURNING mc.id, mc.ticket_pk, mc.revision, mc.seq)
    SELECT priced.i, ins.id, priced.cost
      FROM priced LEFT JOIN ins ON ins.ticket_pk = priced.ticket_pk
                               AND ins.revision = priced.revision AND ins.seq = priced.seq;
END
$$;
