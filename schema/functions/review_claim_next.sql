-- Take the first open ticket in queue order; its ticket_pk, or NULL when
-- none is left. Rows another transaction holds are skipped, never waited for.
CREATE OR REPLACE FUNCTION review_claim_next(p_agent text DEFAULT current_user) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_agent text := triaged_review_agent(p_agent);
    r       triage_results;
BEGIN
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
    UPDATE triage_results SET review_state = 'claimed', assigned_to = v_agent, claimed_at = now()
     WHERE id = r.id RETURNING * INTO r;
    PERFORM triaged_review_log(r, 'claim', v_agent);
    RETURN r.ticket_pk;
END
$$;
