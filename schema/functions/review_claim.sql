-- Take an open ticket. true: it is now (or already was) claimed by p_agent;
-- false: another agent has it or it was reviewed meanwhile.
CREATE OR REPLACE FUNCTION review_claim(p_ticket_pk bigint, p_agent text DEFAULT current_user)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_agent text := triaged_review_agent(p_agent);
    r       triage_results;
BEGIN
    r := triaged_review_lock(p_ticket_pk);
    IF NOT triaged_review_awaiting(r) THEN
        RETURN false;
    END IF;
    IF r.review_state = 'claimed' THEN
        RETURN r.assigned_to = v_agent;
    END IF;
    UPDATE triage_results SET review_state = 'claimed', assigned_to = v_agent, claimed_at = now()
     WHERE id = r.id AND review_state = 'open'
    RETURNING * INTO r;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    PERFORM triaged_review_log(r, 'claim', v_agent);
    RETURN true;
END
$$;
