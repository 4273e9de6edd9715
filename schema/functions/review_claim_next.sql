-- Take the first open ticket in queue order; its ticket_pk, or NULL when
-- none is left. Expired claims go back to the queue first. Rows another
-- transaction holds are skipped, never waited for. TR002 at the cap.
CREATE OR REPLACE FUNCTION review_claim_next(p_agent text DEFAULT current_user) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_agent text := triaged_review_actor(p_agent);
    r       triage_results;
BEGIN
    PERFORM triaged_review_cap_check(v_agent, NULL);
    PERFORM triaged_review_expire();
    -- the first open row in queue order, by the index on the order keys: rows
    -- another transaction holds are skipped, never waited for, and a row
    -- claimed meanwhile fails the re-check of review_state once locked
    SELECT * INTO r FROM triage_results tr
     WHERE tr.review_state = 'open' AND tr.status IN ('pending_review', 'needs_human')
     ORDER BY tr.q_urgency, tr.q_sla_due, tr.q_tier, tr.q_received_at, tr.ticket_pk
     LIMIT 1
       FOR UPDATE OF tr SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    r := triaged_review_assign(r, v_agent, false);
    RETURN r.ticket_pk;
END
$$;
