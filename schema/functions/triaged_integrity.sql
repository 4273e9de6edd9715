-- What the foreign keys dropped by migration 060 used to guarantee, checked on
-- demand: one row per check, orphans = the rows that break it (0 when the data
-- is whole). The writers never leave one; a row written by hand might.
--   ticket_revisions.ticket_pk  a revision of a ticket that does not exist
--   triage_results.ticket_pk    a result of a ticket that does not exist
--   model_calls.ticket_pk       a model call of a ticket that does not exist
--   model_calls.price_id        a call charged at a price row that does not exist
-- Reads every row of the three tables (anti-joins on their keys): an operator's
-- check, not one for every dashboard refresh.
CREATE OR REPLACE FUNCTION triaged_integrity()
RETURNS TABLE (check_name text, orphans bigint)
LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
    SELECT 'ticket_revisions.ticket_pk', count(*)
      FROM ticket_revisions x WHERE NOT EXISTS (SELECT 1 FROM tickets t WHERE t.id = x.ticket_pk)
    UNION ALL
    SELECT 'triage_results.ticket_pk', count(*)
      FROM triage_results x WHERE NOT EXISTS (SELECT 1 FROM tickets t WHERE t.id = x.ticket_pk)
    UNION ALL
    SELECT 'model_calls.ticket_pk', count(*)
      FROM model_calls x WHERE NOT EXISTS (SELECT 1 FROM tickets t WHERE t.id = x.ticket_pk)
    UNION ALL
    SELECT 'model_calls.price_id', count(*)
      FROM model_calls x
     WHERE x.price_id IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM model_prices p WHERE p.id = x.price_id)
$$;
