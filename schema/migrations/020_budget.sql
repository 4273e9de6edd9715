-- 020: budgets that spend what they are given and never fail open (issue
-- #21), reservations as leases (issue #16).
--
-- Every granted reservation is a row: the call counts as started before it
-- is sent. It holds the call's worst case (prompt + max_tokens) against the
-- limit and carries an estimate (prompt + a high percentile of recent
-- completions) for what the calls in flight will likely spend. Its owner
-- (a daemon instance) renews the lease while the call runs; a reservation
-- whose lease ran out belongs to a dead daemon: a later reservation or the
-- periodic sweep marks it 'lost' (paid, answer lost) and charges its
-- estimate, freeing the rest of its worst case. triaged_record_calls
-- settles a reservation to the real cost (and corrects a 'lost' charge).
CREATE TABLE budget_reservations (
    id                  bigserial PRIMARY KEY,
    budget_id           bigint NOT NULL REFERENCES budgets(id) ON DELETE CASCADE,
    day                 date NOT NULL,
    owner               text NOT NULL,
    expires_at          timestamptz NOT NULL,
    tier                text NOT NULL,
    model               text NOT NULL,
    prompt_version      text,
    prompt_tokens       integer NOT NULL,
    completion_estimate integer NOT NULL,
    max_tokens          integer NOT NULL,
    estimate_usd        numeric(14,8) NOT NULL,
    worst_usd           numeric(14,8) NOT NULL,
    state               text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'settled', 'lost')),
    started_at          timestamptz NOT NULL DEFAULT now(),
    ended_at            timestamptz,
    cost_usd            numeric(14,8)
);
CREATE INDEX budget_reservations_open ON budget_reservations (budget_id, expires_at)
    WHERE state = 'open';
CREATE INDEX budget_reservations_owner ON budget_reservations (owner) WHERE state = 'open';
CREATE INDEX budget_reservations_lost ON budget_reservations (started_at) WHERE state = 'lost';

-- reserved_usd: the estimates of the open reservations; reserved_worst_usd:
-- their worst cases (what the limit is checked against); lost: calls of a
-- dead owner, charged at their estimate.
ALTER TABLE budget_usage
    ADD COLUMN reserved_worst_usd numeric(14,8) NOT NULL DEFAULT 0,
    ADD COLUMN lost_calls         bigint NOT NULL DEFAULT 0,
    ADD COLUMN lost_usd           numeric(14,8) NOT NULL DEFAULT 0;
-- reservations made before this migration have no row: they stay held
UPDATE budget_usage SET reserved_worst_usd = reserved_usd;

ALTER TABLE model_calls ADD COLUMN reservation_id bigint;

-- triaged_reserve returns more columns now (functions/ re-creates it)
DROP FUNCTION triaged_reserve(jsonb);
