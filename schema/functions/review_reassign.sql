-- Hand a ticket to another agent: one claimed by p_agent, or an open one.
CREATE OR REPLACE FUNCTION review_reassign(p_ticket_pk bigint, p_to_agent text,
                                p_agent text DEFAULT current_user)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_agent text := triaged_review_agent(p_agent);
    v_to    text := triaged_review_agent(p_to_agent, 'target agent');
    r       triage_results;
    v_from  text;
BEGIN
    r := triaged_review_lock(p_ticket_pk);
    IF NOT triaged_review_awaiting(r) THEN
        RAISE EXCEPTION 'ticket % is not awaiting review (review state %)', p_ticket_pk,
              r.review_state USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF r.review_state = 'claimed' AND r.assigned_to <> v_agent THEN
        RAISE EXCEPTION 'ticket % is claimed by %', p_ticket_pk, r.assigned_to
              USING ERRCODE = 'lock_not_available';
    END IF;
    v_from := r.assigned_to;
    UPDATE triage_results SET review_state = 'claimed', assigned_to = v_to, claimed_at = now()
     WHERE id = r.id RETURNING * INTO r;
    PERFORM triaged_review_log(r, 'reassign', v_agent, jsonb_build_object('from', v_from, 'to', v_to));
END
$$;
