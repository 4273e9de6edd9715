-- Take an open ticket (or one whose claim expired). true: it is now (or
-- already was) claimed by p_agent, and the lease is renewed; false: another
-- agent holds a live claim or it was reviewed meanwhile. TR002 at the cap.
CREATE OR REPLACE FUNCTION review_claim(p_ticket_pk bigint, p_agent text DEFAULT current_user)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_agent text := triaged_review_actor(p_agent);
    r       triage_results;
BEGIN
    r := triaged_review_lock(p_ticket_pk);
    IF NOT triaged_review_awaiting(r) THEN
        RETURN false;
    END IF;
    IF triaged_claim_live(r) AND r.assigned_to <> v_agent THEN
        RETURN false;
    END IF;
    PERFORM triaged_review_assign(r, v_agent);
    RETURN true;
END
$$;
