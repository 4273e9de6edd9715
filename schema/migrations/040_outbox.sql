-- 040: the helpdesk round trip's way back (issue #12 parts 1, 5, 6).
--
-- review_outbox: one row per review action that the helpdesk must hear of
-- (approve, reject, correct, reassign, release; not claim), written by a
-- trigger on review_events in the same transaction as the action (the
-- transactional outbox). seq numbers a ticket's events 1, 2, 3, ... without
-- a gap: review_outbox_seq's row of the ticket is locked by the insert, so two
-- transactions on one ticket take their numbers in commit order. The daemon
-- relays the rows to review.events_topic and sets sent_at only once the
-- broker has acknowledged the message (at least once; consumers keep the
-- highest seq per ticket). Sent rows stay as the audit of what went out.
CREATE TABLE review_outbox (
    id              bigserial   PRIMARY KEY,
    ticket_pk       bigint      NOT NULL REFERENCES tickets (id),
    seq             integer     NOT NULL,
    review_event_id bigint      NOT NULL UNIQUE REFERENCES review_events (id),
    payload         jsonb       NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    UNIQUE (ticket_pk, seq)
);
-- the relay's read: the oldest unsent event of each ticket
CREATE INDEX review_outbox_unsent ON review_outbox (ticket_pk, seq) WHERE sent_at IS NULL;

CREATE TABLE review_outbox_seq (
    ticket_pk bigint  PRIMARY KEY REFERENCES tickets (id),
    last_seq  integer NOT NULL
);

-- Feedback from the helpdesk (feedback.topic): one row per helpdesk event
-- taken, keyed by the helpdesk's own event identity, so that a redelivered
-- event is recognised and changes nothing a second time. outcome says what
-- it did: accepted / edited / replaced (a sent public reply), corrected (n
-- label corrections), or ignored (with the reason in detail).
CREATE TABLE feedback_events (
    source       text        NOT NULL,
    event_id     text        NOT NULL,
    ticket_pk    bigint      REFERENCES tickets (id),
    revision     integer,
    kind         text        NOT NULL CHECK (kind IN ('reply', 'fields')),
    outcome      text        NOT NULL,
    detail       jsonb,
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, event_id)
);

-- A reply sent from the helpdesk that is not the draft at all: 'replaced'.
ALTER TABLE triage_results DROP CONSTRAINT IF EXISTS triage_results_review_outcome_check;
ALTER TABLE triage_results ADD CONSTRAINT triage_results_review_outcome_check
    CHECK (review_outcome IN ('accepted', 'edited', 'replaced', 'rejected'));
ALTER TABLE triage_results ADD COLUMN edit_distance integer; -- words, draft -> reply sent

-- review_events of the helpdesk's feedback carry detail.via = 'helpdesk'
-- and never go back out through the outbox (the helpdesk already did it).
