-- The relay's gauges (the daemon, io/outbox.c, once per review.poll_ms): how
-- many outbox events are not sent yet, and the age of the oldest in ms (0 when
-- none). p is unused ({}): every daemon entry point takes one jsonb. Cheap:
-- the partial index review_outbox_unsent holds only the unsent rows.
CREATE OR REPLACE FUNCTION triaged_outbox_backlog(p jsonb)
RETURNS TABLE (unsent bigint, oldest_ms bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT count(*),
           coalesce((extract(epoch FROM now() - min(o.created_at)) * 1000)::bigint, 0)
      FROM review_outbox o
     WHERE o.sent_at IS NULL
$$;
