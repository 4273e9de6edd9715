-- Give a ticket claimed by p_agent back to the queue (an expired claim too).
CREATE OR REPLACE FUNCTION review_release(p_ticket_pk bigint, p_agent text DEFAULT current_user)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_agent text := triaged_review_actor(p_agent);
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
    UPDATE triage_results SET review_state = 'open', assigned_to = NULL, claimed_at = NULL,
                              claim_expires_at = NULL
     WHERE id = r.id RETURNING * INTO r;
    PERFORM triaged_review_log(r, 'release', v_agent);
END
$$;

-- Supervisors: release claims held by others, one ticket's (p_ticket_pk)
-- or all of one agent's (p_agent); exactly one of the two. Each release is
-- logged with the supervisor's login as the agent and the holder in detail.
-- Returns the number of claims released (0: none was held).
CREATE OR REPLACE FUNCTION review_release_claims(p_ticket_pk bigint DEFAULT NULL,
                                                 p_agent text DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    n integer;
BEGIN
    IF (p_ticket_pk IS NULL) = (p_agent IS NULL) THEN
        RAISE EXCEPTION 'pass either a ticket (p_ticket_pk) or an agent (p_agent)'
              USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM triaged_review_check_len(p_agent, 'agent name', 128);
    WITH x AS (SELECT tr.id, tr.assigned_to FROM triage_results tr
                WHERE tr.review_state = 'claimed'
                  AND tr.status IN ('pending_review', 'needs_human')
                  AND (tr.ticket_pk = p_ticket_pk OR tr.assigned_to = btrim(p_agent))
                ORDER BY tr.id
                  FOR UPDATE),
         u AS (UPDATE triage_results tr
                  SET review_state = 'open', assigned_to = NULL, claimed_at = NULL,
                      claim_expires_at = NULL
                 FROM x WHERE tr.id = x.id
               RETURNING tr.id, tr.ticket_pk, tr.revision, x.assigned_to)
    INSERT INTO review_events (result_id, ticket_pk, revision, action, agent, detail)
    SELECT u.id, u.ticket_pk, u.revision, 'release', session_user,
           jsonb_build_object('released_from', u.assigned_to, 'by_supervisor', true)
      FROM u;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;
