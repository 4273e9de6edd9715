-- Counts only, never values: what redaction, the injection detector and the
-- draft policy did, per day.
CREATE OR REPLACE VIEW metrics_safety AS
    SELECT d.day,
           coalesce(p.email, 0) AS redacted_email, coalesce(p.phone, 0) AS redacted_phone,
           coalesce(p.card, 0) AS redacted_card, coalesce(p.iban, 0) AS redacted_iban,
           coalesce(p.custom, 0) AS redacted_custom,
           coalesce(f.injection, 0) AS injection_flagged,
           coalesce(f.drafts, 0) AS drafts_flagged
      FROM (SELECT date_trunc('day', created_at) AS day FROM ticket_pii
            UNION SELECT date_trunc('day', created_at) FROM triage_results) d
      LEFT JOIN (SELECT date_trunc('day', tp.created_at) AS day,
                        count(*) FILTER (WHERE e->>'kind' = 'email') AS email,
                        count(*) FILTER (WHERE e->>'kind' = 'phone') AS phone,
                        count(*) FILTER (WHERE e->>'kind' = 'card') AS card,
                        count(*) FILTER (WHERE e->>'kind' = 'iban') AS iban,
                        count(*) FILTER (WHERE e->>'kind' NOT IN ('email', 'phone', 'card',
                                                                  'iban', 'literal')) AS custom
                   FROM ticket_pii tp CROSS JOIN LATERAL jsonb_array_elements(tp.map) e
                  GROUP BY 1) p ON p.day = d.day
      LEFT JOIN (SELECT date_trunc('day', created_at) AS day,
                        count(*) FILTER (WHERE detector_flags LIKE 'injection%') AS injection,
                        count(*) FILTER (WHERE draft_flags IS NOT NULL) AS drafts
                   FROM triage_results GROUP BY 1) f ON f.day = d.day;
