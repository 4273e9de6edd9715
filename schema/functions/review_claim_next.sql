-- Take the first open ticket in queue order; its ticket_pk, or NULL when
-- none is left. Rows another transaction holds are skipped, never waited for.
CREATE OR REPLACE FUNCTION review_claim_next(p_agent text DEFAULT current_user) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_agent text := triaged_review_agent(p_agent);
    q       record;
    r       triage_results;
BEGIN
    FOR q IN SELECT ticket_pk, revision FROM agent_review_queue
              WHERE review_state = 'open' ORDER BY queue_position LOOP
        -- re-checked on the row's newest version once locked
        SELECT * INTO r FROM triage_results tr
         WHERE tr.ticket_pk = q.ticket_pk AND tr.revision = q.revision
           AND tr.review_state = 'open' AND tr.status IN ('pending_review', 'needs_human')
           AND NOT EXISTS (SELECT 1 FROM triage_results n
                            WHERE n.ticket_pk = tr.ticket_pk AND n.revision > tr.revision)
           FOR UPDATE OF tr SKIP LOCKED;
        IF FOUND THEN
            UPDATE triage_results SET review_state = 'claimed', assigned_to = v_agent,
                   claimed_at = now()
             WHERE id = r.id RETURNING * INTO r;
            PERFORM triaged_review_log(r, 'claim', v_agent);
            RETURN r.ticket_pk;
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;
