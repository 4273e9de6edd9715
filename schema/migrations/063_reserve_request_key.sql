-- 063: a reservation asked for again is the same reservation (found by a
-- review of the write path).
--
-- The daemon sends a round again when its connection was lost before the
-- answer came (io/db.c). Claims, calls and results are idempotent; a
-- reservation was not: when the first attempt had committed, a second row
-- was reserved, its worst case held against the budget and its lease renewed
-- for the life of the process. The daemon now names each request (a number
-- of its own, unique per owner), and triaged_reserve answers a known one with
-- the reservation it made the first time.
ALTER TABLE budget_reservations ADD COLUMN IF NOT EXISTS request_key text;
CREATE UNIQUE INDEX IF NOT EXISTS budget_reservations_request
    ON budget_reservations (owner, request_key) WHERE request_key IS NOT NULL;
