-- 064: a ticket in flight at another live daemon is not claimed again (found
-- by a review of the Kafka intake).
--
-- Across a rebalance, a partition's tickets in flight at their old owner are
-- fetched again by the new one. Its claim found them 'pending' (seen, not
-- triaged: the same answer as after a crash), so both daemons called the
-- model, and the ticket's event went out twice. A claim now records which
-- daemon holds it (claimed_by: the daemon's owner name, as its budget
-- reservations use; the daemon sets it as its session's triaged.owner at
-- connect, so claim rows keep their type and a daemon of the version before
-- keeps working on this schema, its claims unowned as before), and every
-- daemon says it is alive in triaged_daemons
-- (triaged_renew_reservations, every budget.lease_s / 3). A claim of a
-- revision held by another daemon that is alive is answered 'elsewhere': the
-- daemon waits and asks again, and finds it 'done' once the holder stored
-- it. A holder that stopped saying so (crashed) is taken over, as before,
-- and so is a claim older than ten minutes (a job may end without a result:
-- a dead letter after a database refusal).
ALTER TABLE ticket_revisions ADD COLUMN IF NOT EXISTS claimed_by text;
ALTER TABLE ticket_revisions ADD COLUMN IF NOT EXISTS claimed_at timestamptz;
CREATE TABLE IF NOT EXISTS triaged_daemons (
    owner   text        PRIMARY KEY,
    seen_at timestamptz NOT NULL,
    lease_s integer     NOT NULL
);
