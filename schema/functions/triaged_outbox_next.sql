-- The relay's read (the daemon, io/outbox.c): the oldest unsent event of
-- each ticket, at most p->>'limit' (default 256) of them, oldest first. One
-- event per ticket per round: the next one of a ticket is read only after
-- this one is acknowledged by the broker and marked sent, so a ticket's
-- events reach the topic in sequence order whatever the producer retries.
CREATE OR REPLACE FUNCTION triaged_outbox_next(p jsonb)
RETURNS TABLE (id bigint, ticket_id text, seq integer, payload jsonb)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT h.id, t.ticket_id, h.seq, h.payload
      FROM (SELECT DISTINCT ON (o.ticket_pk) o.id, o.ticket_pk, o.seq, o.payload
              FROM review_outbox o
             WHERE o.sent_at IS NULL
             ORDER BY o.ticket_pk, o.seq) h
      JOIN tickets t ON t.id = h.ticket_pk
     ORDER BY h.id
     LIMIT greatest(1, least(coalesce((p->>'limit')::integer, 256), 10000))
$$;
