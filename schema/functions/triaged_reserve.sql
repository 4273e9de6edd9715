-- Reserve budget for calls before making them (issue #21). Input: a JSON
-- array of {tier, model, prompt_version, prompt_tokens, completion_estimate,
-- max_tokens, owner, lease_s}. For a call under a budget:
--   worst    = price(prompt_tokens + max_tokens), estimate = price(prompt_tokens
--              + min(completion_estimate, max_tokens));
--   granted  when spent + worst cases in flight + worst <= limit: the limit
--            holds even if every call in flight writes max_tokens;
--   busy     when not, but spent + worst <= limit: the calls in flight hold
--            the room and will hand most of it back when they settle (real
--            cost, not worst case); ask again later. (Denying on spent +
--            their estimates would deny early whenever the estimates are
--            cold or high: every call then waits at most one call's time.)
--   denied   otherwise (the budget is spent), or no_price when the model has
--            no price row (fail closed: an unpriced call cannot be checked).
-- A granted call gets a reservation row (the call counts as started) with a
-- lease: owner and expiry, renewed by triaged_renew_reservations. Expired
-- leases of the budget are swept first. The budget row lock serialises
-- instances. No budget row for the tier: no limit, granted, no row. An item
-- with dry_run true only checks the price (the daemon's check at start): it is
-- never granted (verdict 'priced' or 'no_price'), so it can never pay for a call.
-- An item with a request_key (unique per owner, migration 063) that was
-- granted before is answered with that reservation again, reserving nothing:
-- the daemon sends a round again after a lost connection, and the first
-- attempt may have committed.
CREATE OR REPLACE FUNCTION triaged_reserve(batch jsonb)
RETURNS TABLE (idx integer, granted boolean, budget_id bigint, amount_usd numeric,
               reservation_id bigint, verdict text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    t     jsonb;
    i     integer := 0;
    b     bigint;
    lim   numeric;
    p     model_prices;
    pt    integer;
    mt    integer;
    ce    integer;
    worst numeric;
    est   numeric;
    today date := (now() AT TIME ZONE 'UTC')::date;
    u     budget_usage;
BEGIN
    -- the lock order of every budget statement (triaged_lock_usage): today's usage
    -- rows made first, in budget order, then every row it may touch locked in order
    INSERT INTO budget_usage (budget_id, day)
    SELECT DISTINCT bb.id, today
      FROM jsonb_array_elements(batch) AS e
     CROSS JOIN LATERAL (SELECT triaged_budget_for(e->>'tier', e->>'model') AS id) bb
     WHERE bb.id IS NOT NULL AND NOT coalesce((e->>'dry_run')::boolean, false)
     ORDER BY 1
    ON CONFLICT DO NOTHING;
    PERFORM triaged_lock_usage(NULL, NULL);
    FOR t IN SELECT value FROM jsonb_array_elements(batch) LOOP
        b := triaged_budget_for(t->>'tier', t->>'model');
        idx := i; budget_id := b; amount_usd := 0; reservation_id := NULL;
        IF b IS NULL THEN
            granted := true; verdict := 'granted';
            RETURN NEXT;
            i := i + 1;
            CONTINUE;
        END IF;
        IF coalesce((t->>'dry_run')::boolean, false) THEN
            granted := false;
            verdict := CASE WHEN (triaged_price_at(t->>'model', now())).id IS NOT NULL
                            THEN 'priced' ELSE 'no_price' END;
            RETURN NEXT;
            i := i + 1;
            CONTINUE;
        END IF;
        IF t->>'request_key' IS NOT NULL THEN
            SELECT r.id, r.estimate_usd INTO reservation_id, amount_usd
              FROM budget_reservations r
             WHERE r.owner = coalesce(t->>'owner', 'unknown')
               AND r.request_key = t->>'request_key';
            IF FOUND THEN
                granted := true; verdict := 'granted';
                RETURN NEXT;
                i := i + 1;
                CONTINUE;
            END IF;
            reservation_id := NULL; amount_usd := 0;
        END IF;
        SELECT daily_limit_usd INTO lim FROM budgets WHERE id = b;
        -- its usage row was made and locked above, before the loop
        PERFORM triaged_sweep_reservations(b);
        SELECT * INTO u FROM budget_usage bu WHERE bu.budget_id = b AND bu.day = today;
        p := triaged_price_at(t->>'model', now());
        pt := greatest(coalesce((t->>'prompt_tokens')::integer, 0), 0);
        mt := greatest(coalesce((t->>'max_tokens')::integer, 0), 0);
        ce := least(greatest(coalesce((t->>'completion_estimate')::integer, mt), 0), mt);
        worst := triaged_cost(p, pt, 0, mt);
        est := triaged_cost(p, pt, 0, ce);
        IF p.id IS NULL THEN
            granted := false; verdict := 'no_price';
        ELSIF u.spent_usd + u.reserved_worst_usd + worst <= lim THEN
            INSERT INTO budget_reservations AS r (budget_id, day, owner, expires_at, tier, model,
                    prompt_version, prompt_tokens, completion_estimate, max_tokens,
                    estimate_usd, worst_usd, request_key)
            VALUES (b, today, coalesce(t->>'owner', 'unknown'),
                    now() + make_interval(secs => coalesce((t->>'lease_s')::integer, 60)),
                    t->>'tier', t->>'model', t->>'prompt_version', pt, ce, mt, est, worst,
                    t->>'request_key')
            RETURNING r.id INTO reservation_id;
            UPDATE budget_usage bu SET reserved_usd = bu.reserved_usd + est,
                   reserved_worst_usd = bu.reserved_worst_usd + worst
             WHERE bu.budget_id = b AND bu.day = today;
            granted := true; verdict := 'granted'; amount_usd := est;
        ELSIF u.spent_usd + worst <= lim AND u.reserved_worst_usd > 0 THEN
            granted := false; verdict := 'busy';
        ELSE
            UPDATE budget_usage bu SET denied = bu.denied + 1
             WHERE bu.budget_id = b AND bu.day = today;
            granted := false; verdict := 'denied';
        END IF;
        RETURN NEXT;
        i := i + 1;
    END LOOP;
END
$$;

-- Release the reservations whose lease ran out (their owner died): each is
-- 'lost' (paid, answer lost: the provider may have answered and billed it),
-- charged at its estimate; the rest of its worst case is freed. p_budget:
-- one budget (NULL: all). Returns the number of reservations released.
CREATE OR REPLACE FUNCTION triaged_sweep_reservations(p_budget bigint) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE n integer := 0;
BEGIN
    -- the lock order of every budget statement: usage rows, then reservations
    PERFORM triaged_lock_usage(NULL, NULL);
    WITH gone AS (
        UPDATE budget_reservations r SET state = 'lost', ended_at = now(),
               cost_usd = r.estimate_usd
         WHERE r.state = 'open' AND r.expires_at < now()
           AND (p_budget IS NULL OR r.budget_id = p_budget)
        RETURNING r.budget_id, r.day, r.estimate_usd, r.worst_usd),
    per AS (
        SELECT gone.budget_id, gone.day, count(*) AS n, sum(estimate_usd) AS est,
               sum(worst_usd) AS worst FROM gone GROUP BY 1, 2),
    upd AS (
        UPDATE budget_usage bu
           SET reserved_usd = greatest(bu.reserved_usd - per.est, 0),
               reserved_worst_usd = greatest(bu.reserved_worst_usd - per.worst, 0),
               spent_usd = bu.spent_usd + per.est,
               lost_calls = bu.lost_calls + per.n,
               lost_usd = bu.lost_usd + per.est
          FROM per WHERE bu.budget_id = per.budget_id AND bu.day = per.day)
    SELECT coalesce(sum(per.n), 0) INTO n FROM per;
    RETURN n;
END
$$;

-- Renew the leases of an owner's open reservations (its calls still run) and
-- sweep everyone's expired ones. Input: a JSON array of {owner, lease_s}.
-- Also the daemon's heartbeat (migration 064): the owner is alive for
-- lease_s more seconds, so its claims of tickets in flight are not taken
-- over (triaged_claim); lease_s 0 says it stopped (the daemon's clean exit).
-- Daemons silent for a day are forgotten. An element may carry held, the
-- [{p: ticket_pk, r: revision}] of the claims the owner has worked on for a
-- lease or more: their claimed_at is renewed, so a claim its daemon still
-- works on is not taken over once it is ten minutes (or three leases) old
-- (triaged_claim; only the owner's own claims of revisions not stored yet are
-- touched, and rows another transaction holds are left for the next heartbeat).
-- Returns idx, the reservations renewed and the calls lost today (every
-- budget, every daemon: the daemon's /metrics gauge).
CREATE OR REPLACE FUNCTION triaged_renew_reservations(batch jsonb)
RETURNS TABLE (idx integer, renewed integer, lost_today bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE t jsonb; i integer := 0; b bigint;
BEGIN
    -- one budget at a time, in id order (the lock order of a reserve batch), and
    -- swept first, so the count includes what this call releases
    FOR b IN SELECT DISTINCT r.budget_id FROM budget_reservations r
              WHERE r.state = 'open' AND r.expires_at < now() ORDER BY 1 LOOP
        PERFORM triaged_sweep_reservations(b);
    END LOOP;
    SELECT coalesce(sum(bu.lost_calls), 0) INTO lost_today FROM budget_usage bu
     WHERE bu.day = (now() AT TIME ZONE 'UTC')::date;
    DELETE FROM triaged_daemons d WHERE d.seen_at < now() - interval '1 day';
    FOR t IN SELECT value FROM jsonb_array_elements(batch) LOOP
        INSERT INTO triaged_daemons AS d (owner, seen_at, lease_s)
        VALUES (t->>'owner', now(), coalesce((t->>'lease_s')::integer, 60))
        ON CONFLICT (owner) DO UPDATE SET seen_at = now(), lease_s = EXCLUDED.lease_s;
        -- the advisory lock that says the daemon lives (taken at connect): taken
        -- again when this session lacks it (an old backend of the daemon's held it
        -- then, a network blip ago)
        IF coalesce((t->>'lease_s')::integer, 60) > 0 AND NOT EXISTS (
               SELECT 1 FROM pg_locks l
                WHERE l.locktype = 'advisory' AND l.pid = pg_backend_pid()
                  AND l.classid = 29810::oid AND l.objid = hashtext(t->>'owner')::oid
                  AND l.objsubid = 2) THEN
            PERFORM pg_try_advisory_lock(29810, hashtext(t->>'owner'));
        END IF;
        IF coalesce((t->>'lease_s')::integer, 60) > 0
           AND jsonb_typeof(t->'held') = 'array' THEN
            -- rows another transaction holds (a takeover, a claim) are skipped, not
            -- waited for: the next heartbeat renews them, and no lock order is needed
            UPDATE ticket_revisions rv SET claimed_at = now()
             WHERE (rv.ticket_pk, rv.revision) IN (
                   SELECT r2.ticket_pk, r2.revision
                     FROM ticket_revisions r2
                     JOIN jsonb_to_recordset(t->'held') AS h(p bigint, r integer)
                       ON r2.ticket_pk = h.p AND r2.revision = h.r
                    WHERE r2.claimed_by = t->>'owner'
                      AND NOT EXISTS (SELECT 1 FROM triage_results tr
                                       WHERE tr.ticket_pk = h.p AND tr.revision = h.r)
                      FOR UPDATE OF r2 SKIP LOCKED);
        END IF;
        UPDATE budget_reservations r
           SET expires_at = now() + make_interval(secs => coalesce((t->>'lease_s')::integer, 60))
         WHERE r.owner = t->>'owner' AND r.state = 'open';
        GET DIAGNOSTICS renewed = ROW_COUNT;
        idx := i;
        RETURN NEXT;
        i := i + 1;
    END LOOP;
END
$$;
