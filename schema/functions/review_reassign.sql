-- Hand a ticket to another agent: one claimed by p_agent, or an open one (or
-- one whose claim expired). TR002 when the target is at the cap.
CREATE OR REPLACE FUNCTION review_reassign(p_ticket_pk bigint, p_to_agent text,
                                p_agent text DEFAULT current_user)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_agent text := triaged_review_actor(p_agent);
    v_to    text := triaged_review_agent(p_to_agent, 'target agent');
    r       triage_results;
    v_from  text;
BEGIN
    r := triaged_review_lock(p_ticket_pk);
    IF NOT triaged_review_awaiting(r) THEN
        RAISE EXCEPTION 'ticket % is not awaiting review (review state %)', p_ticket_pk,
              r.review_state USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF triaged_claim_live(r) AND r.assigned_to <> v_agent THEN
        RAISE EXCEPTION 'ticket % is claimed by %', p_ticket_pk, r.assigned_to
              USING ERRCODE = 'lock_not_available';
    END IF;
    IF NOT (triaged_claim_live(r) AND r.assigned_to = v_to) THEN
        PERFORM triaged_review_cap_check(v_to, r.id);
    END IF;
    v_from := CASE WHEN r.review_state = 'claimed' THEN r.assigned_to END;
    UPDATE triage_results SET review_state = 'claimed', assigned_to = v_to, claimed_at = now(),
                              claim_expires_at = now() + triaged_claim_ttl()
     WHERE id = r.id RETURNING * INTO r;
    PERFORM triaged_review_log(r, 'reassign', v_agent, jsonb_build_object('from', v_from, 'to', v_to));
END
$$;
