-- 003: the cascade. Prices and the cost of every model call, daily budgets
-- shared by every instance, model calls persisted as soon as they complete
-- (a redelivered ticket reuses them instead of paying twice), escalation
-- fields on the triage, and the tickets.triaged event built in one place.

-- ---- prices --------------------------------------------------------------
-- USD per million tokens. A new price is a new row with a later
-- effective_from; every call keeps the price row it was charged with, so
-- costs can be recomputed (triaged_recompute_costs) after a correction.
CREATE TABLE model_prices (
    id                    bigserial PRIMARY KEY,
    model                 text        NOT NULL,
    effective_from        timestamptz NOT NULL,
    input_per_mtok        numeric(12,6) NOT NULL CHECK (input_per_mtok >= 0),
    cached_input_per_mtok numeric(12,6) NOT NULL CHECK (cached_input_per_mtok >= 0),
    output_per_mtok       numeric(12,6) NOT NULL CHECK (output_per_mtok >= 0),
    note                  text,
    UNIQUE (model, effective_from)
);
-- Seed: public list prices of the default models (see deploy/prices.sql to change them).
INSERT INTO model_prices (model, effective_from, input_per_mtok, cached_input_per_mtok,
                          output_per_mtok, note) VALUES
    ('gpt-4o-mini', '2024-07-18', 0.15, 0.075, 0.60, 'seed: OpenAI list price'),
    ('gpt-4o',      '2024-08-06', 2.50, 1.25, 10.00, 'seed: OpenAI list price'),
    ('gpt-4.1-mini','2025-04-14', 0.40, 0.10, 1.60, 'seed: OpenAI list price'),
    ('gpt-4.1',     '2025-04-14', 2.00, 0.50, 8.00, 'seed: OpenAI list price');

-- The price row in force for a model at a time (NULL: no price known).
CREATE FUNCTION triaged_price_at(p_model text, p_at timestamptz) RETURNS model_prices
LANGUAGE sql STABLE AS $$
    SELECT * FROM model_prices
     WHERE model = p_model AND effective_from <= p_at
     ORDER BY effective_from DESC LIMIT 1
$$;

CREATE FUNCTION triaged_cost(p model_prices, p_prompt integer, p_cached integer,
                             p_completion integer) RETURNS numeric
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN p.id IS NULL THEN NULL ELSE
        round(((greatest(p_prompt - p_cached, 0) * p.input_per_mtok
               + p_cached * p.cached_input_per_mtok
               + p_completion * p.output_per_mtok) / 1000000.0)::numeric, 8) END
$$;

ALTER TABLE model_calls
    ADD COLUMN price_id     bigint REFERENCES model_prices(id),
    ADD COLUMN cost_usd     numeric(14,8),
    ADD COLUMN reserved_usd numeric(14,8) NOT NULL DEFAULT 0;

-- Recompute the cost of calls in a time range with the prices in force then.
CREATE FUNCTION triaged_recompute_costs(p_from timestamptz, p_to timestamptz) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
    UPDATE model_calls mc SET price_id = p.id,
           cost_usd = triaged_cost(p, mc.prompt_tokens, mc.cached_tokens, mc.completion_tokens)
      FROM LATERAL (SELECT (triaged_price_at(mc.model, mc.started_at)).*) p
     WHERE mc.started_at >= p_from AND mc.started_at < p_to;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

-- ---- budgets ---------------------------------------------------------------
-- A daily limit per tier ('mini', 'flagship'), optionally per model (NULL =
-- every model of the tier). No row: no limit. Usage is per UTC day.
CREATE TABLE budgets (
    id              bigserial PRIMARY KEY,
    tier            text NOT NULL CHECK (tier IN ('mini', 'flagship')),
    model           text,
    daily_limit_usd numeric(14,6) NOT NULL CHECK (daily_limit_usd >= 0),
    UNIQUE NULLS NOT DISTINCT (tier, model)
);
CREATE TABLE budget_usage (
    budget_id    bigint NOT NULL REFERENCES budgets(id) ON DELETE CASCADE,
    day          date   NOT NULL,
    reserved_usd numeric(14,8) NOT NULL DEFAULT 0,
    spent_usd    numeric(14,8) NOT NULL DEFAULT 0,
    denied       bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (budget_id, day)
);

-- The budget governing a call: the model's own row, else the tier's.
CREATE FUNCTION triaged_budget_for(p_tier text, p_model text) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT id FROM budgets WHERE tier = p_tier AND (model = p_model OR model IS NULL)
     ORDER BY model NULLS LAST LIMIT 1
$$;

-- Reserve the worst-case cost of calls before making them. Input: a JSON
-- array of {tier, model, prompt_tokens, max_tokens} (the estimated prompt and
-- the most the answer may cost), or {tier, model, amount_usd}. A call is
-- granted when spent + reserved + amount <= limit; the row lock serialises
-- instances, so the limit holds across them. Returns idx, granted, the
-- budget id and the amount reserved (to be settled by triaged_record_calls).
CREATE FUNCTION triaged_reserve(batch jsonb)
RETURNS TABLE (idx integer, granted boolean, budget_id bigint, amount_usd numeric)
LANGUAGE plpgsql AS $$
DECLARE
    t   jsonb;
    i   integer := 0;
    b   bigint;
    lim numeric;
    amt numeric;
    u   budget_usage;
BEGIN
    FOR t IN SELECT value FROM jsonb_array_elements(batch) LOOP
        b := triaged_budget_for(t->>'tier', t->>'model');
        amt := coalesce((t->>'amount_usd')::numeric,
                        triaged_cost(triaged_price_at(t->>'model', now()),
                                     coalesce((t->>'prompt_tokens')::integer, 0), 0,
                                     coalesce((t->>'max_tokens')::integer, 0)),
                        0);
        idx := i; budget_id := b; amount_usd := CASE WHEN b IS NULL THEN 0 ELSE amt END;
        IF b IS NULL THEN
            granted := true;
        ELSE
            SELECT daily_limit_usd INTO lim FROM budgets WHERE id = b;
            INSERT INTO budget_usage (budget_id, day) VALUES (b, (now() AT TIME ZONE 'UTC')::date)
            ON CONFLICT DO NOTHING;
            SELECT * INTO u FROM budget_usage bu
             WHERE bu.budget_id = b AND bu.day = (now() AT TIME ZONE 'UTC')::date FOR UPDATE;
            IF u.spent_usd + u.reserved_usd + amt <= lim THEN
                UPDATE budget_usage bu SET reserved_usd = bu.reserved_usd + amt
                 WHERE bu.budget_id = b AND bu.day = u.day;
                granted := true;
            ELSE
                UPDATE budget_usage bu SET denied = bu.denied + 1
                 WHERE bu.budget_id = b AND bu.day = u.day;
                granted := false;
            END IF;
        END IF;
        RETURN NEXT;
        i := i + 1;
    END LOOP;
END
$$;

-- ---- model calls, persisted as they complete ------------------------------
-- Input: a JSON array of calls {ticket_pk, revision, seq, tier, purpose,
-- model, prompt_version, outcome, ..., answer, reserved_usd, budget_id}.
-- Idempotent on (ticket_pk, revision, seq). A new call is charged at the
-- price in force when it started, and settles its budget reservation:
-- the reservation is released and the real cost is spent.
CREATE FUNCTION triaged_record_calls(batch jsonb)
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
                started_at, finished_at, answer, price_id, cost_usd, reserved_usd)
        VALUES ((c->>'ticket_pk')::bigint, (c->>'revision')::integer, (c->>'seq')::integer,
                c->>'tier', c->>'purpose', c->>'model', c->>'prompt_version', c->>'outcome',
                c->>'error', (c->>'http_status')::integer, (c->>'attempts')::integer,
                coalesce((c->>'retries_429')::integer, 0),
                coalesce((c->>'prompt_tokens')::integer, 0),
                coalesce((c->>'completion_tokens')::integer, 0),
                coalesce((c->>'cached_tokens')::integer, 0),
                (c->>'latency_ms')::double precision, (c->>'total_ms')::double precision,
                st, to_timestamp((c->>'finished_ms')::double precision / 1000),
                c->>'answer', p.id, cost, res)
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

-- Release reservations of calls that were never made (the ticket reused a
-- persisted answer, or was finished otherwise). Input: [{budget_id, amount_usd}].
CREATE FUNCTION triaged_release(batch jsonb)
RETURNS TABLE (idx integer, released boolean)
LANGUAGE plpgsql AS $$
DECLARE t jsonb; i integer := 0;
BEGIN
    FOR t IN SELECT value FROM jsonb_array_elements(batch) LOOP
        UPDATE budget_usage bu
           SET reserved_usd = greatest(bu.reserved_usd - (t->>'amount_usd')::numeric, 0)
         WHERE bu.budget_id = (t->>'budget_id')::bigint
           AND bu.day = (now() AT TIME ZONE 'UTC')::date;
        idx := i; released := FOUND;
        RETURN NEXT;
        i := i + 1;
    END LOOP;
END
$$;

-- ---- the triage: escalation fields ------------------------------------------
ALTER TABLE triage_results
    ADD COLUMN action text NOT NULL DEFAULT 'none'
        CHECK (action IN ('none', 'escalate', 'human_only'));

-- ---- the tickets.triaged event ----------------------------------------------
-- One JSON document per triaged ticket revision, keyed by ticket_id on the
-- topic. sequence increases with every stored triage in this database;
-- consumers keep the highest (ticket_id, revision, sequence) and drop the
-- rest: the event can be delivered more than once. A human_only ticket
-- carries no draft.
CREATE FUNCTION triaged_event(p_ticket_pk bigint, p_revision integer) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'type', 'ticket.triaged',
        'schema_version', 1,
        'source', t.source,
        'ticket_id', t.ticket_id,
        'revision', tr.revision,
        'sequence', tr.id,
        'status', tr.status,
        'status_reason', tr.status_reason,
        'category', tr.category,
        'sentiment', tr.sentiment,
        'urgency', tr.urgency,
        'confidence', tr.confidence,
        'language', tr.language,
        'summary', tr.summary,
        'draft_reply', CASE WHEN tr.action = 'human_only' THEN NULL ELSE tr.draft_reply END,
        'action', tr.action,
        'escalated', tr.escalated,
        'escalation_reasons', tr.escalation_reasons,
        'matched_rules', tr.matched_rules,
        'priority', tr.priority,
        'decided_by', tr.decided_by,
        'model', tr.model,
        'prompt_version', tr.prompt_version,
        'cost_usd', (SELECT sum(mc.cost_usd) FROM model_calls mc
                      WHERE mc.ticket_pk = tr.ticket_pk AND mc.revision = tr.revision),
        'triaged_at', tr.created_at)
      FROM triage_results tr JOIN tickets t ON t.id = tr.ticket_pk
     WHERE tr.ticket_pk = p_ticket_pk AND tr.revision = p_revision
$$;

-- ---- claim and store, v2 ----------------------------------------------------
-- claim now also returns the calls already completed for the revision (to
-- be reused) and, for a revision already triaged, its event (to be sent
-- again: the first sending may have been lost in a crash).
CREATE FUNCTION triaged_claim_v2(batch jsonb)
RETURNS TABLE (idx integer, ticket_pk bigint, revision integer, state text, calls jsonb,
               event jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT * FROM triaged_claim(batch) LOOP
        idx := r.idx; ticket_pk := r.ticket_pk; revision := r.revision; state := r.state;
        calls := NULL; event := NULL;
        IF r.state = 'done' THEN
            event := triaged_event(r.ticket_pk, r.revision);
        ELSIF r.state = 'pending' THEN
            SELECT jsonb_agg(jsonb_build_object('seq', mc.seq, 'tier', mc.tier,
                       'purpose', mc.purpose, 'model', mc.model,
                       'prompt_version', mc.prompt_version, 'outcome', mc.outcome,
                       'answer', mc.answer, 'error', mc.error) ORDER BY mc.seq)
              INTO calls FROM model_calls mc
             WHERE mc.ticket_pk = r.ticket_pk AND mc.revision = r.revision;
        END IF;
        RETURN NEXT;
    END LOOP;
END
$$;

-- store v2: the escalation fields; calls are recorded separately as they
-- complete (v1's inline calls still work). Returns the event.
CREATE FUNCTION triaged_store_v2(batch jsonb)
RETURNS TABLE (idx integer, result_id bigint, inserted boolean, event jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    t   jsonb;
    i   integer := 0;
    r   record;
BEGIN
    FOR r IN SELECT * FROM triaged_store(batch) LOOP
        t := batch->r.idx;
        IF r.inserted THEN
            UPDATE triage_results tr
               SET action = coalesce(t->>'action', 'none'),
                   escalated = coalesce((t->>'escalated')::boolean, false),
                   escalation_reasons = t->>'escalation_reasons',
                   matched_rules = t->>'matched_rules',
                   priority = coalesce((t->>'priority')::integer, 50)
             WHERE tr.id = r.result_id;
        END IF;
        idx := r.idx; result_id := r.result_id; inserted := r.inserted;
        event := triaged_event((t->>'ticket_pk')::bigint, (t->>'revision')::integer);
        RETURN NEXT;
        i := i + 1;
    END LOOP;
END
$$;

-- ---- cost and budget views for supervisors ------------------------------------
CREATE VIEW metrics_cost_daily AS
    SELECT date_trunc('day', started_at) AS day, tier, model,
           count(*) AS calls,
           sum(prompt_tokens) AS prompt_tokens,
           sum(cached_tokens) AS cached_tokens,
           sum(completion_tokens) AS completion_tokens,
           round(sum(cost_usd), 6) AS cost_usd,
           count(*) FILTER (WHERE cost_usd IS NULL) AS unpriced_calls
      FROM model_calls GROUP BY 1, 2, 3;

CREATE VIEW ticket_costs AS
    SELECT ticket_pk, revision, count(*) AS calls,
           count(*) FILTER (WHERE tier = 'flagship') AS flagship_calls,
           round(sum(cost_usd), 8) AS cost_usd
      FROM model_calls GROUP BY 1, 2;

CREATE VIEW metrics_cost_per_ticket AS
    SELECT date_trunc('day', tr.created_at) AS day,
           count(*) AS tickets,
           round(sum(tc.cost_usd), 6) AS cost_usd,
           round(sum(tc.cost_usd) / nullif(count(*), 0), 8) AS cost_per_ticket_usd,
           round(1000 * sum(tc.cost_usd) / nullif(count(*), 0), 6) AS cost_per_1000_tickets_usd
      FROM triage_results tr
      LEFT JOIN ticket_costs tc ON tc.ticket_pk = tr.ticket_pk AND tc.revision = tr.revision
     GROUP BY 1;

CREATE VIEW metrics_budget AS
    SELECT bu.day, b.tier, b.model, b.daily_limit_usd, bu.reserved_usd, bu.spent_usd,
           b.daily_limit_usd - bu.spent_usd - bu.reserved_usd AS remaining_usd, bu.denied
      FROM budgets b JOIN budget_usage bu ON bu.budget_id = b.id;

-- ---- privileges ------------------------------------------------------------------
REVOKE ALL ON model_prices, budgets, budget_usage FROM PUBLIC;
REVOKE ALL ON SEQUENCE model_prices_id_seq, budgets_id_seq FROM PUBLIC;
GRANT SELECT ON model_prices, budgets TO triaged_service;
GRANT SELECT, INSERT, UPDATE ON budget_usage TO triaged_service;
REVOKE EXECUTE ON FUNCTION triaged_claim_v2(jsonb), triaged_store_v2(jsonb),
                           triaged_record_calls(jsonb), triaged_reserve(jsonb),
                           triaged_release(jsonb), triaged_recompute_costs(timestamptz, timestamptz)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION triaged_claim_v2(jsonb), triaged_store_v2(jsonb),
                          triaged_record_calls(jsonb), triaged_reserve(jsonb),
                          triaged_release(jsonb), triaged_event(bigint, integer),
                          triaged_price_at(text, timestamptz),
                          triaged_cost(model_prices, integer, integer, integer),
                          triaged_budget_for(text, text)
    TO triaged_service;
GRANT SELECT ON metrics_cost_daily, ticket_costs, metrics_cost_per_ticket, metrics_budget,
                model_prices, budgets
    TO triaged_supervisor;

-- ---- dead letters, as seen by supervisors ------------------------------------
-- The dead-letter topic holds the message itself; this is the count and the
-- reason, written after the topic acknowledged it (best effort: a database
-- outage can leave a dead letter only in the topic). Idempotent.
CREATE FUNCTION triaged_record_dead_letters(batch jsonb)
RETURNS TABLE (idx integer, inserted boolean)
LANGUAGE plpgsql AS $$
DECLARE t jsonb; i integer := 0; did bigint;
BEGIN
    FOR t IN SELECT value FROM jsonb_array_elements(batch) LOOP
        INSERT INTO dead_letters AS dl (topic, partition, kafka_offset, error_code, reason)
        VALUES (t->>'topic', (t->>'partition')::integer, (t->>'offset')::bigint,
                t->>'code', left(t->>'reason', 1000))
        ON CONFLICT (topic, partition, kafka_offset) DO NOTHING
        RETURNING dl.id INTO did;
        idx := i; inserted := did IS NOT NULL;
        RETURN NEXT;
        did := NULL;
        i := i + 1;
    END LOOP;
END
$$;
REVOKE EXECUTE ON FUNCTION triaged_record_dead_letters(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION triaged_record_dead_letters(jsonb) TO triaged_service;
