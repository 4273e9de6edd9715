-- triage_results with the current labels (corrections applied); the model's
-- own labels stay available as model_*.
CREATE OR REPLACE VIEW triage_effective AS
SELECT tr.id, tr.ticket_pk, tr.revision, tr.status, tr.status_reason,
       coalesce(lc.category, tr.category)   AS category,
       coalesce(lc.sentiment, tr.sentiment) AS sentiment,
       coalesce(lc.urgency, tr.urgency)     AS urgency,
       tr.category AS model_category, tr.sentiment AS model_sentiment, tr.urgency AS model_urgency,
       lc.n > 0 AS labels_corrected,
       tr.confidence, tr.language, tr.summary, tr.draft_reply, tr.decided_by, tr.model,
       tr.prompt_version, tr.created_at, tr.escalated, tr.escalation_reasons, tr.matched_rules,
       tr.priority, tr.review_state, tr.assigned_to, tr.claimed_at, tr.reviewed_by,
       tr.reviewed_at, tr.final_reply, tr.review_outcome, tr.reject_reason
  FROM triage_results tr
  CROSS JOIN LATERAL (
       SELECT count(*) AS n,
              (array_agg(c.new_value ORDER BY c.corrected_at DESC, c.id DESC)
                   FILTER (WHERE c.field = 'category'))[1]  AS category,
              (array_agg(c.new_value ORDER BY c.corrected_at DESC, c.id DESC)
                   FILTER (WHERE c.field = 'sentiment'))[1] AS sentiment,
              (array_agg(c.new_value ORDER BY c.corrected_at DESC, c.id DESC)
                   FILTER (WHERE c.field = 'urgency'))[1]   AS urgency
         FROM label_corrections c
        WHERE c.ticket_pk = tr.ticket_pk AND c.revision = tr.revision) lc;
