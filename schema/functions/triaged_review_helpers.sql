-- Each locks the ticket's latest triage result (SELECT ... FOR UPDATE), so
-- two agents acting on one ticket are serialised and the second sees the
-- first one's outcome. Acting on an open ticket (approve, reject, correct)
-- claims it first, in the same transaction. Errors (SQLSTATE):
--   22004 null_value_not_allowed           a required argument is missing
--   22023 invalid_parameter_value          an argument has a bad value
--   P0002 no_data_found                    no triage result for the ticket
--   55000 object_not_in_prerequisite_state not awaiting review / not claimed
--   55P03 lock_not_available               claimed by another agent
-- p_agent defaults to the calling login; an application that logs in once
-- for many agents passes the agent's name, and review_events.db_user keeps
-- the login that made the call.
--   TR001 (ticket changed)                 the revision passed is not the newest
-- approve, reject and correct name the revision the agent saw (p_revision):
-- when a newer one has arrived they fail with TR001. A new revision's triage
-- result supersedes the one awaiting review, and a claim on it moves to the
-- new one (agent_review_queue.changed).

CREATE OR REPLACE FUNCTION triaged_review_agent(p_agent text, p_what text DEFAULT 'agent') RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = public, pg_temp AS $$
BEGIN
    IF p_agent IS NULL OR btrim(p_agent) = '' THEN
        RAISE EXCEPTION '% name is required', p_what USING ERRCODE = 'null_value_not_allowed';
    END IF;
    RETURN btrim(p_agent);
END
$$;

-- Lock the ticket's latest triage result and return it.
CREATE OR REPLACE FUNCTION triaged_review_lock(p_ticket_pk bigint) RETURNS triage_results
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    r triage_results;
BEGIN
    IF p_ticket_pk IS NULL THEN
        RAISE EXCEPTION 'ticket_pk is required' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO r FROM triage_results tr
     WHERE tr.ticket_pk = p_ticket_pk
     ORDER BY tr.revision DESC LIMIT 1
       FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'ticket % has no triage result', p_ticket_pk USING ERRCODE = 'no_data_found';
    END IF;
    RETURN r;
END
$$;

CREATE OR REPLACE FUNCTION triaged_review_awaiting(r triage_results) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT r.status IN ('pending_review', 'needs_human') AND r.review_state IN ('open', 'claimed')
$$;

CREATE OR REPLACE FUNCTION triaged_review_log(r triage_results, p_action text, p_agent text,
                                   p_detail jsonb DEFAULT NULL) RETURNS void
LANGUAGE sql SET search_path = public, pg_temp AS $$
    INSERT INTO review_events (result_id, ticket_pk, revision, action, agent, detail)
    VALUES (r.id, r.ticket_pk, r.revision, p_action, p_agent, p_detail)
$$;

-- Lock the ticket for an action by p_agent on p_revision, the revision the
-- agent saw: it must be the ticket's newest (else SQLSTATE TR001, "ticket
-- changed since you claimed it: revision N is new"), await review, and be
-- claimed by p_agent, or open (then it is claimed for p_agent now).
CREATE OR REPLACE FUNCTION triaged_review_take(p_ticket_pk bigint, p_revision integer,
                                              p_agent text) RETURNS triage_results
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    r        triage_results;
    v_newest integer;
BEGIN
    IF p_revision IS NULL THEN
        RAISE EXCEPTION 'revision is required: pass the revision you read in agent_review_queue'
              USING ERRCODE = 'null_value_not_allowed';
    END IF;
    r := triaged_review_lock(p_ticket_pk);
    SELECT greatest(t.revision, r.revision) INTO v_newest FROM tickets t WHERE t.id = p_ticket_pk;
    v_newest := coalesce(v_newest, r.revision);
    IF p_revision < 1 OR p_revision > v_newest THEN
        RAISE EXCEPTION 'ticket % has no revision %', p_ticket_pk, p_revision
              USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_revision < v_newest THEN
        RAISE EXCEPTION 'ticket changed since you claimed it: revision % is new', v_newest
              USING ERRCODE = 'TR001',
                    DETAIL = format('ticket %s: you acted on revision %s', p_ticket_pk, p_revision),
                    HINT = 'read the ticket again in agent_review_queue and act on its revision';
    END IF;
    IF NOT triaged_review_awaiting(r) THEN
        RAISE EXCEPTION 'ticket % is not awaiting review (review state %)', p_ticket_pk,
              r.review_state USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF r.review_state = 'claimed' AND r.assigned_to <> p_agent THEN
        RAISE EXCEPTION 'ticket % is claimed by %', p_ticket_pk, r.assigned_to
              USING ERRCODE = 'lock_not_available';
    END IF;
    IF r.review_state = 'open' THEN
        UPDATE triage_results SET review_state = 'claimed', assigned_to = p_agent, claimed_at = now()
         WHERE id = r.id RETURNING * INTO r;
        PERFORM triaged_review_log(r, 'claim', p_agent);
    END IF;
    RETURN r;
END
$$;
