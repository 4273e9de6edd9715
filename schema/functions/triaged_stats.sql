-- The dashboard's counters (migration 008): triggers on triage_results and
-- label_corrections append what changed to stats_delta, grouped per
-- statement (one row per figure and bucket, not per ticket); a shared
-- counter row is never updated by a writer, so a daemon batch and an agent
-- never wait for each other's counters. triaged_stats_compact() folds the
-- deltas into stats_counts; the metrics views read stats_counts plus the
-- deltas not yet folded, so they are exact either way. Buckets are UTC hours.
--
-- Rows are never deleted from triage_results; a direct insert into
-- label_corrections that corrects two fields of one result in one statement
-- is counted as if in two (review_correct inserts one field per statement).

-- Fold every delta into stats_counts. Returns the number of deltas folded;
-- 0 at once when another transaction is folding (never waits).
CREATE OR REPLACE FUNCTION triaged_stats_compact() RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    n bigint;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('triaged_stats_compact')) THEN
        RETURN 0;
    END IF;
    WITH d AS (DELETE FROM stats_delta RETURNING kind, bucket, a, b, c, n1, n2, n3),
         g AS (SELECT kind, bucket, a, b, c, sum(n1) AS n1, sum(n2) AS n2, sum(n3) AS n3,
                      count(*) AS rows
                 FROM d GROUP BY 1, 2, 3, 4, 5),
         u AS (INSERT INTO stats_counts AS s (kind, bucket, a, b, c, n1, n2, n3)
               SELECT kind, bucket, a, b, c, n1, n2, n3 FROM g ORDER BY 1, 2, 3, 4, 5
               ON CONFLICT ON CONSTRAINT stats_counts_key DO UPDATE
                  SET n1 = s.n1 + excluded.n1, n2 = s.n2 + excluded.n2, n3 = s.n3 + excluded.n3)
    SELECT coalesce(sum(rows), 0) INTO n FROM g;
    -- emptied deadline hours and urgencies would pile up with time
    DELETE FROM stats_counts WHERE kind IN ('due', 'backlog') AND n1 = 0 AND n2 = 0 AND n3 = 0;
    RETURN n;
END
$$;

-- Fold now and then from the writers too (about one statement in 32), so
-- the deltas stay few even when nobody reads the dashboard.
CREATE OR REPLACE FUNCTION triaged_stats_maybe_compact() RETURNS void
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    IF random() < 1.0 / 32 THEN
        PERFORM triaged_stats_compact();
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION triaged_stats_inserted() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO stats_delta (kind, bucket, a, b, c, n1, n2, n3)
    SELECT 'volume', date_trunc('hour', r.received_at, 'UTC'), n.category, n.urgency,
           n.sentiment, count(*), 0, 0
      FROM new_rows n
      -- an index lookup per row: a transition table has no statistics, and
      -- a hash join would read every revision ever stored (issue #15)
     CROSS JOIN LATERAL (SELECT rv.received_at FROM ticket_revisions rv
                          WHERE rv.ticket_pk = n.ticket_pk AND rv.revision = n.revision
                         OFFSET 0) r
     GROUP BY 2, 3, 4, 5
    UNION ALL
    SELECT 'escalation', date_trunc('hour', n.created_at, 'UTC'), NULL, NULL, NULL,
           count(*), count(*) FILTER (WHERE n.escalated), 0
      FROM new_rows n GROUP BY 2
    UNION ALL
    SELECT 'reason', NULL, btrim(x.reason), NULL, NULL, count(*), 0, 0
      FROM new_rows n CROSS JOIN LATERAL string_to_table(n.escalation_reasons, '; ') x(reason)
     WHERE n.escalated AND btrim(x.reason) <> '' GROUP BY 3
    UNION ALL
    SELECT 'backlog', NULL, n.eff_urgency, NULL, NULL,
           count(*) FILTER (WHERE n.review_state = 'open'),
           count(*) FILTER (WHERE n.review_state = 'claimed'), 0
      FROM new_rows n
     WHERE n.review_state IN ('open', 'claimed') AND n.status IN ('pending_review', 'needs_human')
     GROUP BY 3
    UNION ALL
    SELECT 'due', date_trunc('hour', n.q_sla_due, 'UTC'), n.eff_urgency, NULL, NULL, count(*), 0, 0
      FROM new_rows n
     WHERE n.review_state IN ('open', 'claimed') AND n.status IN ('pending_review', 'needs_human')
       AND n.q_sla_due IS NOT NULL
     GROUP BY 2, 3;
    PERFORM triaged_stats_maybe_compact();
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER triage_results_stats_ins AFTER INSERT ON triage_results
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION triaged_stats_inserted();

-- Review state and current urgency moves (backlog), decisions (outcome);
-- and, for a row changed by hand (the daemon never does), its escalation
-- and model labels: the old values out, the new ones in.
CREATE OR REPLACE FUNCTION triaged_stats_updated() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO stats_delta (kind, bucket, a, b, c, n1, n2, n3)
    SELECT 'escalation', x.bucket, NULL, NULL, NULL, sum(x.n), sum(x.e), 0
      FROM new_rows n JOIN old_rows o ON o.id = n.id
     CROSS JOIN LATERAL (
           VALUES (date_trunc('hour', n.created_at, 'UTC'), 1, n.escalated::int),
                  (date_trunc('hour', o.created_at, 'UTC'), -1, -o.escalated::int)) x(bucket, n, e)
     WHERE n.created_at IS DISTINCT FROM o.created_at OR n.escalated IS DISTINCT FROM o.escalated
     GROUP BY 2
    HAVING sum(x.n) <> 0 OR sum(x.e) <> 0
    UNION ALL
    SELECT 'reason', NULL, btrim(x.reason), NULL, NULL, sum(x.n), 0, 0
      FROM new_rows n JOIN old_rows o ON o.id = n.id
     CROSS JOIN LATERAL (
           SELECT r, 1 FROM string_to_table(n.escalation_reasons, '; ') r WHERE n.escalated
           UNION ALL
           SELECT r, -1 FROM string_to_table(o.escalation_reasons, '; ') r WHERE o.escalated
           ) x(reason, n)
     WHERE (n.escalation_reasons IS DISTINCT FROM o.escalation_reasons
            OR n.escalated IS DISTINCT FROM o.escalated) AND btrim(x.reason) <> ''
     GROUP BY 3
    HAVING sum(x.n) <> 0
    UNION ALL
    SELECT 'volume', date_trunc('hour', r.received_at, 'UTC'), x.category, x.urgency,
           x.sentiment, sum(x.n), 0, 0
      FROM new_rows n JOIN old_rows o ON o.id = n.id
      JOIN ticket_revisions r ON r.ticket_pk = n.ticket_pk AND r.revision = n.revision
     CROSS JOIN LATERAL (
           SELECT (array_agg(c.new_value ORDER BY c.corrected_at DESC, c.id DESC)
                       FILTER (WHERE c.field = 'category'))[1] AS category,
                  (array_agg(c.new_value ORDER BY c.corrected_at DESC, c.id DESC)
                       FILTER (WHERE c.field = 'urgency'))[1] AS urgency,
                  (array_agg(c.new_value ORDER BY c.corrected_at DESC, c.id DESC)
                       FILTER (WHERE c.field = 'sentiment'))[1] AS sentiment
             FROM label_corrections c
            WHERE c.ticket_pk = n.ticket_pk AND c.revision = n.revision) lc
     CROSS JOIN LATERAL (
           VALUES (coalesce(lc.category, n.category), coalesce(lc.urgency, n.urgency),
                   coalesce(lc.sentiment, n.sentiment), 1),
                  (coalesce(lc.category, o.category), coalesce(lc.urgency, o.urgency),
                   coalesce(lc.sentiment, o.sentiment), -1)) x(category, urgency, sentiment, n)
     WHERE (n.category, n.urgency, n.sentiment) IS DISTINCT FROM (o.category, o.urgency, o.sentiment)
     GROUP BY 2, 3, 4, 5
    HAVING sum(x.n) <> 0
    UNION ALL
    SELECT 'outcome', date_trunc('hour', n.reviewed_at, 'UTC'),
           coalesce((SELECT lc.new_value FROM label_corrections lc
                      WHERE lc.ticket_pk = n.ticket_pk AND lc.revision = n.revision
                        AND lc.field = 'category'
                      ORDER BY lc.corrected_at DESC, lc.id DESC LIMIT 1), n.category),
           n.decided_by, n.model,
           count(*) FILTER (WHERE n.review_outcome = 'accepted'),
           count(*) FILTER (WHERE n.review_outcome = 'edited'),
           count(*) FILTER (WHERE n.review_outcome IN ('rejected', 'replaced'))
      FROM new_rows n JOIN old_rows o ON o.id = n.id
     WHERE o.review_outcome IS NULL AND n.review_outcome IS NOT NULL
     GROUP BY 2, 3, 4, 5
    UNION ALL
    SELECT 'backlog', NULL, x.urgency, NULL, NULL, sum(x.open), sum(x.claimed), 0
      FROM (SELECT n.eff_urgency AS urgency, (n.review_state = 'open')::int AS open,
                   (n.review_state = 'claimed')::int AS claimed
              FROM new_rows n
             WHERE n.review_state IN ('open', 'claimed')
               AND n.status IN ('pending_review', 'needs_human')
            UNION ALL
            SELECT o.eff_urgency, -(o.review_state = 'open')::int,
                   -(o.review_state = 'claimed')::int
              FROM old_rows o
             WHERE o.review_state IN ('open', 'claimed')
               AND o.status IN ('pending_review', 'needs_human')) x
     GROUP BY 3
    HAVING sum(x.open) <> 0 OR sum(x.claimed) <> 0
    UNION ALL
    SELECT 'due', x.bucket, x.urgency, NULL, NULL, sum(x.n), 0, 0
      FROM (SELECT date_trunc('hour', n.q_sla_due, 'UTC') AS bucket, n.eff_urgency AS urgency,
                   1 AS n
              FROM new_rows n
             WHERE n.review_state IN ('open', 'claimed')
               AND n.status IN ('pending_review', 'needs_human') AND n.q_sla_due IS NOT NULL
            UNION ALL
            SELECT date_trunc('hour', o.q_sla_due, 'UTC'), o.eff_urgency, -1
              FROM old_rows o
             WHERE o.review_state IN ('open', 'claimed')
               AND o.status IN ('pending_review', 'needs_human') AND o.q_sla_due IS NOT NULL) x
     GROUP BY 2, 3
    HAVING sum(x.n) <> 0;
    PERFORM triaged_stats_maybe_compact();
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER triage_results_stats_upd AFTER UPDATE ON triage_results
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION triaged_stats_updated();

-- A label correction moves its result from the old labels' volume row to
-- the new ones'.
CREATE OR REPLACE FUNCTION triaged_stats_corrected() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO stats_delta (kind, bucket, a, b, c, n1)
    SELECT 'volume', date_trunc('hour', r.received_at, 'UTC'), v.category, v.urgency,
           v.sentiment, sum(v.n)
      FROM new_rows n
      JOIN ticket_revisions r ON r.ticket_pk = n.ticket_pk AND r.revision = n.revision
      CROSS JOIN LATERAL (
           SELECT (array_agg(c.new_value ORDER BY c.corrected_at DESC, c.id DESC)
                       FILTER (WHERE c.field = 'category'))[1] AS category,
                  (array_agg(c.new_value ORDER BY c.corrected_at DESC, c.id DESC)
                       FILTER (WHERE c.field = 'urgency'))[1] AS urgency,
                  (array_agg(c.new_value ORDER BY c.corrected_at DESC, c.id DESC)
                       FILTER (WHERE c.field = 'sentiment'))[1] AS sentiment
             FROM label_corrections c
            WHERE c.ticket_pk = n.ticket_pk AND c.revision = n.revision) lc
      JOIN triage_results tr ON tr.ticket_pk = n.ticket_pk AND tr.revision = n.revision
      CROSS JOIN LATERAL (
           SELECT coalesce(lc.category, tr.category) AS category,
                  coalesce(lc.urgency, tr.urgency) AS urgency,
                  coalesce(lc.sentiment, tr.sentiment) AS sentiment, 1 AS n
           UNION ALL
           SELECT CASE n.field WHEN 'category' THEN n.old_value
                               ELSE coalesce(lc.category, tr.category) END,
                  CASE n.field WHEN 'urgency' THEN n.old_value
                               ELSE coalesce(lc.urgency, tr.urgency) END,
                  CASE n.field WHEN 'sentiment' THEN n.old_value
                               ELSE coalesce(lc.sentiment, tr.sentiment) END, -1) v
     GROUP BY 2, 3, 4, 5
    HAVING sum(v.n) <> 0;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER label_corrections_stats AFTER INSERT ON label_corrections
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION triaged_stats_corrected();
