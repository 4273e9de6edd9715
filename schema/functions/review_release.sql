-- Give a ticket claimed by p_agent back to the queue.
CREATE OR REPLACE FUNCTION review_release(p_ticket_pk bigint, p_agent text DEFAULT current_user)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_agent text := triaged_review_agent(p_agent);
    r       triage_results;
BEGIN
    r := triaged_review_lock(p_ticket_pk);
    IF NOT triaged_review_awaiting(r) OR r.review_state <> 'claimed' THEN
        RAISE EXCEPTION 'ticket % is not claimed (review state %)', p_ticket_pk, r.review_state
              USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF r.assigned_to <> v_agent THEN
        RAISE EXCEPTION 'ticket % is claimed by %', p_ticket_pk, r.assigned_to
              USING ERRCODE = 'lock_not_available';
    END IF;
    UPDATE triage_results SET review_state = 'open', assigned_to = NULL, claimed_at = NULL
     WHERE id = r.id RETURNING * INTO r;
    PERFORM triaged_review_log(r, 'release', v_agent);
END
$$;
