-- The dead-letter topic holds the message itself; this is the count and the
-- reason, written after the topic acknowledged it (best effort: a database
-- outage can leave a dead letter only in the topic). Idempotent.
CREATE OR REPLACE FUNCTION triaged_record_dead_letters(batch jsonb)
RETURNS TABLE (idx integer, inserted boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE t jsonb; i integer := 0; did bigint;
BEGIN
    FOR t IN SELECT value FROM jsonb_array_elements(batch) LOOP
        INSERT INTO dead_letters AS dl (topic, partition, kafka_offset, error_code, reason)
        VALUES (t->>'topic', (t->>'partition')::integer, (t->>'offset')::bigint,
                t->>'code', left(t->>'reason', 1000))
        ON CONFLICT (topic, partition, kafka_offset) DO NOTHING
        RETURNING dl.id INTO did;
        idx := i; inserted := did IS NOT NULL;
        RETURN NEXT;
        did := NULL;
        i := i + 1;
    END LOOP;
END
$$;
