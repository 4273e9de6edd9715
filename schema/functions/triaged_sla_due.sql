-- When a reply is due: received_at plus the policy's minutes for this urgency
-- and tier (the tier's own row, else the NULL-tier row). A NULL urgency (a
-- needs_human ticket the model could not label) counts as 'high'. NULL when
-- no policy matches.
CREATE OR REPLACE FUNCTION triaged_sla_due(p_urgency text, p_tier text, p_received_at timestamptz)
RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT p_received_at + p.due_minutes * interval '1 minute'
      FROM sla_policy p
     WHERE p.urgency = coalesce(p_urgency, 'high')
       AND (p.customer_tier = lower(p_tier) OR p.customer_tier IS NULL)
     ORDER BY p.customer_tier IS NULL
     LIMIT 1
$$;
