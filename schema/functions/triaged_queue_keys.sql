-- Before a triage result is inserted: its queue order keys (q_*), and, for a
-- new revision, the previous revision awaiting review is superseded and a
-- live (unexpired) claim on it moves to this one, with a new lease (replaces_revision = the revision it
-- replaced; the queue shows the ticket as changed). ON CONFLICT DO NOTHING
-- runs this too: it changes nothing a second time.
--
-- Results of one ticket may be stored out of order (revision 1 escalated to a
-- slow flagship, revision 2 answered by the mini first). A result whose
-- ticket already has a result of a later revision is inserted superseded: the
-- queue shows the newest content only. The ticket's row is locked first, so
-- two results of one ticket stored at once take turns, and the second sees
-- the first (each statement of this volatile function takes a new snapshot).
CREATE OR REPLACE FUNCTION triaged_queue_keys() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    t tickets;
    o triage_results;
BEGIN
    SELECT * INTO t FROM tickets WHERE id = NEW.ticket_pk FOR UPDATE;
    IF NOT FOUND THEN
        -- the foreign key migration 060 dropped, kept here: a result no ticket
        -- has would be counted and never shown (the store rejects that item)
        RAISE EXCEPTION 'triage result for ticket % which does not exist', NEW.ticket_pk
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    NEW.q_received_at := t.received_at;
    NEW.q_tier := triaged_tier_rank(t.customer_tier);
    NEW.q_urgency := triaged_urgency_rank(NEW.urgency);
    NEW.eff_urgency := NEW.urgency;
    NEW.q_sla_due := triaged_sla_due(NEW.urgency, t.customer_tier, t.received_at);
    IF EXISTS (SELECT 1 FROM triage_results tr
                WHERE tr.ticket_pk = NEW.ticket_pk AND tr.revision > NEW.revision) THEN
        NEW.review_state := 'superseded';
        RETURN NEW;
    END IF;
    IF NEW.revision > 1 THEN
        SELECT * INTO o FROM triage_results tr
         WHERE tr.ticket_pk = NEW.ticket_pk AND tr.revision < NEW.revision
           AND tr.review_state IN ('open', 'claimed')
         ORDER BY tr.revision DESC LIMIT 1 FOR UPDATE;
        IF FOUND THEN
            UPDATE triage_results SET review_state = 'superseded', assigned_to = NULL,
                   claimed_at = NULL, claim_expires_at = NULL
             WHERE ticket_pk = NEW.ticket_pk AND revision < NEW.revision
               AND review_state IN ('open', 'claimed');
            IF o.status IN ('pending_review', 'needs_human') THEN
                NEW.replaces_revision := o.revision;
            END IF;
            IF triaged_claim_live(o) AND NEW.review_state = 'open'
               AND NEW.status IN ('pending_review', 'needs_human') THEN
                NEW.review_state := 'claimed';
                NEW.assigned_to := o.assigned_to;
                NEW.claimed_at := now();
                NEW.claim_expires_at := now() + triaged_claim_ttl();
            END IF;
        END IF;
    END IF;
    RETURN NEW;
END
$$;

-- A first revision inserted with its keys already set (triaged_store computes
-- them set-based for a ticket that has one revision only, issue #15) skips the
-- per-row call.
CREATE OR REPLACE TRIGGER triage_results_queue_keys BEFORE INSERT ON triage_results
    FOR EACH ROW WHEN (NEW.q_received_at IS NULL OR NEW.revision > 1)
    EXECUTE FUNCTION triaged_queue_keys();

-- The moved claim in the audit trail (after the insert: review_events
-- references the row).
CREATE OR REPLACE FUNCTION triaged_claim_moved() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO review_events (result_id, ticket_pk, revision, action, agent, detail)
    VALUES (NEW.id, NEW.ticket_pk, NEW.revision, 'claim', NEW.assigned_to,
            jsonb_build_object('moved_from_revision', NEW.replaces_revision));
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER triage_results_claim_moved AFTER INSERT ON triage_results
    FOR EACH ROW WHEN (NEW.replaces_revision IS NOT NULL AND NEW.review_state = 'claimed')
    EXECUTE FUNCTION triaged_claim_moved();

-- A changed SLA policy moves the deadlines of every ticket awaiting review.
CREATE OR REPLACE FUNCTION triaged_sla_changed() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    UPDATE triage_results tr
       SET q_sla_due = triaged_sla_due(e.urgency, t.customer_tier, tr.q_received_at)
      FROM triage_effective e, tickets t
     WHERE e.id = tr.id AND t.id = tr.ticket_pk
       AND tr.review_state IN ('open', 'claimed')
       AND tr.status IN ('pending_review', 'needs_human');
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER sla_policy_changed AFTER INSERT OR UPDATE OR DELETE ON sla_policy
    FOR EACH STATEMENT EXECUTE FUNCTION triaged_sla_changed();
