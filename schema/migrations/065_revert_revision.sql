-- 065: a ticket edited back to content it had before is a new revision (found
-- by a review of the write path).
--
-- A revision was found by its content hash alone, unique per ticket: content
-- X, then Y, then X again matched revision 1 and was taken for a redelivery.
-- The ticket kept Y as its current content and Y's triage in the queue, while
-- the helpdesk showed X. The claim now takes a message newer than the one
-- that made the current revision (a later offset of the same partition) for
-- a new revision when its content is not the current one, even if an older
-- revision had it; so the hash is no longer unique per ticket. The lookup goes
-- by the primary key (ticket_pk, revision) over the ticket's few revisions (no
-- index built here: dropping the constraint is instant, and the benchmark
-- found the index's 111 bytes of WAL per ticket bought nothing measurable).
ALTER TABLE ticket_revisions DROP CONSTRAINT IF EXISTS ticket_revisions_ticket_pk_content_hash_key;

-- 064 as first written (never released) added an owner field to the claim rows;
-- the daemon sets triaged.owner for its session instead
ALTER TYPE triaged_claim_in DROP ATTRIBUTE IF EXISTS owner;
