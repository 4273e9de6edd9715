-- Record model calls as they complete (a redelivered ticket reuses them
-- instead of paying twice). Input: an array of triaged_call_in (migration
-- 061; the daemon sends it in PostgreSQL's binary format, no JSON to parse),
-- or, through triaged_record_calls(jsonb), a JSON array of calls {ticket_pk,
-- revision, seq, tier, purpose, model, prompt_version, outcome, error,
-- http_status, attempts, retries_429, prompt_tokens, completion_tokens,
-- cached_tokens, latency_ms, total_ms, started_ms, finished_ms, answer,
-- reserved_usd, budget_id, reasoning_tokens, dialect, response_mode, error_type,
-- error_code, error_param, reservation_id, provider_request_id}. Idempotent on
-- (ticket_pk, revision, seq). Since 066 the daemon sends triaged_call_in2 (the
-- same fields, then the provider's request id) to triaged_record_calls_rows2;
-- triaged_record_calls_rows(triaged_call_in[]) stays for the daemons of the
-- version before.
-- One INSERT for the batch; each new call is charged at the price in force
-- when it started (triaged_price_at) and, when it names a budget, settles
-- its reservation: the amount reserved is released and the real cost spent
-- (one UPDATE per budget, the row lock serialising instances). A call with a
-- reservation_id settles that row (issue #21): its estimate and worst case
-- leave the amounts in flight and its real cost is spent; a reservation swept
-- as 'lost' meanwhile has its estimated charge corrected to the real cost.
-- A call whose row exists already (another daemon recorded the same call
-- after a rebalance, or this batch was sent again) still settles its own
-- reservation: that call was made and paid for; a reservation settled before
-- is not settled twice (only 'open' and 'lost' rows are). The same call twice
-- in one batch is recorded and counted once, for its first element.
-- Returns idx,
-- call_id (the row inserted now, for the first element of a call; NULL for a
-- call recorded before) and cost_usd.
-- plan_cache_mode: see triaged_store_rows (planned once per session).
-- Two statements: the calls (insert, price, counters), then, only when a call
-- inserted now names a budget or a reservation, the budget's settlement. One
-- statement with both made every batch start the settlement's part of the
-- plan (about 0.1 ms, a third of the statement for a few calls, issue #15)
-- though the shipped configuration (budget.enforce = false) never uses it.
CREATE OR REPLACE FUNCTION triaged_record_calls_rows2(batch triaged_call_in2[])
RETURNS TABLE (idx integer, call_id bigint, cost_usd numeric)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
    SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
DECLARE
    out_i    integer[];
    out_id   bigint[];
    out_cost numeric[];
    budgeted boolean;
BEGIN
    WITH input AS (
        SELECT (x.ordinality - 1)::integer AS i, x.ticket_pk, x.revision, x.seq, x.tier,
               x.purpose, x.model, x.prompt_version, x.outcome, x.error, x.http_status,
               x.attempts, x.retries_429, x.prompt_tokens, x.completion_tokens,
               x.cached_tokens, x.latency_ms, x.total_ms, x.started_ms, x.finished_ms,
               x.answer, x.reserved_usd::numeric AS reserved_usd, x.budget_id,
               x.reasoning_tokens, x.dialect, x.response_mode, x.error_type, x.error_code,
               x.error_param, x.reservation_id, x.provider_request_id,
               to_timestamp(x.started_ms / 1000) AS st
          FROM unnest(batch) WITH ORDINALITY AS x),
    priced AS (
        SELECT input.*, (p.mp).id AS price_id,
               triaged_cost(p.mp, coalesce(input.prompt_tokens, 0),
                            coalesce(input.cached_tokens, 0),
                            coalesce(input.completion_tokens, 0)) AS cost
          -- triaged_price_at written out: a function in FROM that returns one
          -- row is not inlined, and each call started its own executor (issue
          -- #15); test_cascade checks that both find the same price
          FROM input LEFT JOIN LATERAL (
               SELECT mp FROM model_prices mp
                WHERE mp.model = input.model AND mp.effective_from <= input.st
                ORDER BY mp.effective_from DESC LIMIT 1) p ON true),
    -- the first element of each call (the same call twice is recorded once)
    first AS (
        SELECT DISTINCT ON (ticket_pk, revision, seq) * FROM priced
         ORDER BY ticket_pk, revision, seq, i),
    ins AS (
        INSERT INTO model_calls AS mc (ticket_pk, revision, seq, tier, purpose, model,
                prompt_version, outcome, error, http_status, attempts, retries_429,
                prompt_tokens, completion_tokens, cached_tokens, latency_ms, total_ms,
                started_at, finished_at, answer, price_id, cost_usd, reserved_usd,
                reasoning_tokens, dialect, response_mode, error_type, error_code, error_param,
                reservation_id, provider_request_id)
        SELECT ticket_pk, revision, seq, tier, purpose, model, prompt_version, outcome, error,
               http_status, attempts, coalesce(retries_429, 0), coalesce(prompt_tokens, 0),
               coalesce(completion_tokens, 0), coalesce(cached_tokens, 0), latency_ms,
               total_ms, st, to_timestamp(finished_ms / 1000), answer, price_id, cost,
               coalesce(reserved_usd, 0), coalesce(reasoning_tokens, 0), dialect,
               response_mode, error_type, error_code, error_param, reservation_id,
               provider_request_id
          FROM first ORDER BY i
        ON CONFLICT (ticket_pk, revision, seq) DO NOTHING
        RETURNING mc.id, mc.ticket_pk, mc.revision, mc.seq),
    -- the dashboard's counters (migration 058): one delta row per figure and bucket
    -- of this batch, for the calls inserted now; cost as stored (numeric(14,8))
    fresh AS (
        SELECT first.*, ins.id AS call_id
          FROM first JOIN ins ON ins.ticket_pk = first.ticket_pk
                             AND ins.revision = first.revision AND ins.seq = first.seq),
    counted AS (
        INSERT INTO stats_delta (kind, bucket, a, b, c, n1, n2, n3)
        SELECT 'cost', date_trunc('hour', st, 'UTC'), tier, model, NULL, count(*),
               count(*) FILTER (WHERE cost IS NULL),
               coalesce(sum(round(cost, 8) * 100000000), 0)::bigint
          FROM fresh GROUP BY 2, 3, 4
        UNION ALL
        SELECT 'tokens', date_trunc('hour', st, 'UTC'), tier, model, NULL,
               sum(coalesce(prompt_tokens, 0)), sum(coalesce(cached_tokens, 0)),
               sum(coalesce(completion_tokens, 0))
          FROM fresh GROUP BY 2, 3, 4
        UNION ALL
        SELECT 'latency', date_trunc('hour', to_timestamp(finished_ms / 1000), 'UTC'), tier,
               model, floor(32 * ln(greatest(latency_ms, 0.001)) / ln(2.0))::integer::text,
               count(*), count(*) FILTER (WHERE outcome <> 'ok'), 0
          FROM fresh GROUP BY 2, 3, 4, 5)
    -- in any order: the caller matches the rows by idx
    SELECT array_agg(priced.i), array_agg(fresh.call_id), array_agg(priced.cost),
           coalesce(bool_or(priced.reservation_id IS NOT NULL
                            OR (fresh.call_id IS NOT NULL AND priced.budget_id IS NOT NULL)),
                    false)
      INTO out_i, out_id, out_cost, budgeted
      FROM priced LEFT JOIN fresh ON fresh.i = priced.i;

    IF budgeted THEN
        -- the lock order of every budget statement (triaged_lock_usage)
        PERFORM triaged_lock_usage(array_agg(r.budget_id), array_agg(r.day))
           FROM budget_reservations r
          WHERE r.id IN (SELECT x.reservation_id FROM unnest(batch) AS x
                          WHERE x.reservation_id IS NOT NULL);
        -- the calls that settle a budget: every one with a reservation row (recorded
        -- now or before: held skips a row settled already), and, of an older
        -- daemon's calls without one, those inserted now
        WITH priced AS (
            SELECT x.reservation_id, x.budget_id, x.reserved_usd::numeric AS reserved_usd,
                   u.cost, u.id IS NOT NULL AS inserted
              FROM unnest(batch) WITH ORDINALITY AS x
              JOIN unnest(out_i, out_id, out_cost) AS u(i, id, cost)
                ON u.i = (x.ordinality - 1)::integer
             WHERE x.reservation_id IS NOT NULL
                OR (u.id IS NOT NULL AND x.budget_id IS NOT NULL)),
        -- the reservation rows these calls settle, as they were
        held AS (
            SELECT r.id, r.budget_id, r.day, r.state, r.estimate_usd, r.worst_usd
              FROM budget_reservations r JOIN priced ON priced.reservation_id = r.id
             WHERE r.state IN ('open', 'lost')
               FOR UPDATE OF r),
        closed AS (
            UPDATE budget_reservations r SET state = 'settled', ended_at = now(),
                   cost_usd = coalesce(priced.cost, 0)
              FROM priced WHERE priced.reservation_id = r.id AND r.id IN (SELECT id FROM held)
            RETURNING r.id, r.cost_usd),
        settled AS (
            -- calls of a reservation row
            SELECT held.budget_id, held.day,
                   sum(held.estimate_usd) FILTER (WHERE held.state = 'open') AS res,
                   sum(held.worst_usd) FILTER (WHERE held.state = 'open') AS worst,
                   sum(closed.cost_usd) - coalesce(sum(held.estimate_usd)
                                            FILTER (WHERE held.state = 'lost'), 0) AS cost,
                   count(*) FILTER (WHERE held.state = 'lost') AS found,
                   coalesce(sum(held.estimate_usd) FILTER (WHERE held.state = 'lost'), 0)
                       AS found_usd
              FROM held JOIN closed ON closed.id = held.id
             GROUP BY 1, 2
            UNION ALL
            -- calls reserved before reservation rows (an older daemon): today's amounts
            SELECT priced.budget_id, (now() AT TIME ZONE 'UTC')::date,
                   sum(coalesce(priced.reserved_usd, 0)), sum(coalesce(priced.reserved_usd, 0)),
                   sum(coalesce(priced.cost, 0)), 0, 0
              FROM priced
             WHERE priced.budget_id IS NOT NULL AND priced.reservation_id IS NULL
               AND priced.inserted
             GROUP BY 1, 2),
        per AS (
            SELECT settled.budget_id, settled.day, sum(coalesce(res, 0)) AS res,
                   sum(coalesce(worst, 0)) AS worst, sum(coalesce(cost, 0)) AS cost,
                   sum(found) AS found, sum(found_usd) AS found_usd
              FROM settled GROUP BY 1, 2)
        UPDATE budget_usage bu
           SET reserved_usd = greatest(bu.reserved_usd - per.res, 0),
               reserved_worst_usd = greatest(bu.reserved_worst_usd - per.worst, 0),
               spent_usd = bu.spent_usd + per.cost,
               lost_calls = greatest(bu.lost_calls - per.found, 0),
               lost_usd = greatest(bu.lost_usd - per.found_usd, 0)
          FROM per
         WHERE bu.budget_id = per.budget_id AND bu.day = per.day;
    END IF;

    RETURN QUERY SELECT u.i, u.id, u.cost FROM unnest(out_i, out_id, out_cost) AS u(i, id, cost);
END
$$;

-- The daemons of the version before 066: their rows, with no request id, in
-- their order (idx is the position in the batch). To be dropped with
-- triaged_call_in by a later migration, once no such daemon can be running.
CREATE OR REPLACE FUNCTION triaged_record_calls_rows(batch triaged_call_in[])
RETURNS TABLE (idx integer, call_id bigint, cost_usd numeric)
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT * FROM triaged_record_calls_rows2(
        ARRAY(SELECT ROW((batch[i]).*, NULL::text)::triaged_call_in2
                FROM generate_subscripts(batch, 1) AS i ORDER BY i))
$$;

-- The same from a JSON array (the keys are triaged_call_in2's fields): for
-- scripts and tests. The daemon sends the typed array.

CREATE OR REPLACE FUNCTION triaged_record_calls(batch jsonb)
RETURNS TABLE (idx integer, call_id bigint, cost_usd numeric)
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT * FROM triaged_record_calls_rows2(
        ARRAY(SELECT jsonb_populate_recordset(NULL::triaged_call_in2, batch)))
$$;
