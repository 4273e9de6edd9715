-- The tickets.triaged event of a stored triage, built here and only here
-- (the daemon builds the same document in C for a row it has just stored;
-- the cascade suite compares the two). One JSON document per triaged ticket
-- revision, keyed by ticket_id on the topic. sequence increases with every
-- stored triage in this database; consumers keep the highest (ticket_id,
-- revision, sequence) and drop the rest: the event can be delivered more
-- than once. A human_only ticket carries no draft. NULL when the revision
-- has no triage result.
CREATE OR REPLACE FUNCTION triaged_event(p_ticket_pk bigint, p_revision integer) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
    SELECT jsonb_build_object(
        'type', 'ticket.triaged',
        'schema_version', 1,
        'source', t.source,
        'ticket_id', t.ticket_id,
        'revision', tr.revision,
        'sequence', tr.id,
        'status', tr.status,
        'status_reason', tr.status_reason,
        'category', tr.category,
        'sentiment', tr.sentiment,
        'urgency', tr.urgency,
        'confidence', tr.confidence,
        'language', tr.language,
        'summary', tr.summary,
        'draft_reply', CASE WHEN tr.action = 'human_only' THEN NULL ELSE tr.draft_reply END,
        'action', tr.action,
        'escalated', tr.escalated,
        'escalation_reasons', tr.escalation_reasons,
        'matched_rules', tr.matched_rules,
        'priority', tr.priority,
        'decided_by', tr.decided_by,
        'model', tr.model,
        'prompt_version', tr.prompt_version,
        'cost_usd', (SELECT sum(mc.cost_usd) FROM model_calls mc
                      WHERE mc.ticket_pk = tr.ticket_pk AND mc.revision = tr.revision),
        'triaged_at', tr.created_at)
      FROM triage_results tr JOIN tickets t ON t.id = tr.ticket_pk
     WHERE tr.ticket_pk = p_ticket_pk AND tr.revision = p_revision
$$;
