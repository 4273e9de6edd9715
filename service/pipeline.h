/*
 * pipeline: the coordinator of the daemon. Each ticket's life is decided by
 * cascade_step() (core/cascade.h, where the diagram is); the coordinator
 * turns I/O results into events for it and carries out its actions, through
 * the modules it names: job (lifecycle and lists), store (the database
 * contract), model_call (attempts, backoff, breaker), safety (redaction and
 * the draft check) and the flagship queue.
 *
 * A completed model call is persisted at once (and reused, not paid again,
 * if the ticket is redelivered). RESERVE happens only with budget.enforce.
 * DONE hands the offset back to kafka_in, which commits only contiguous
 * durable offsets. Every move between waiting states goes through
 * job_set_state(), so the per-state counts are exact and shutdown can wait
 * for them to drain. Owns backpressure: intake is paused while too many
 * tickets are in flight or while the database is down.
 */
#ifndef TRIAGED_PIPELINE_H
#define TRIAGED_PIPELINE_H

#include <stdint.h>

#include <event2/event.h>

#include "cascade.h"
#include "config.h"
#include "hist.h"
#include "xmem.h"
#include "buf.h"
#include "text.h"

/* The names before one prefix per enum family (cascade.h), for the admin
 * server and its tests until they move to MODEL_*. */
#define TIER_MINI_MODEL MODEL_MINI
#define TIER_FLAGSHIP_MODEL MODEL_FLAGSHIP
#define TIER__MODELS MODEL__TIERS

struct pipeline_stats {
	uint64_t consumed;
	uint64_t dlq;
	uint64_t claimed_new, claimed_updated, claimed_pending, redelivered_done;
	uint64_t redelivered_in_flight; /* kin_adopted(): left to a job still running */
	uint64_t claimed_elsewhere;     /* claims answered: held by another live daemon */
	uint64_t stored_pending_review, stored_needs_human, stored_duplicate;
	/* per tier (mini, flagship): HTTP attempts and their outcomes */
	uint64_t model_requests[TIER__MODELS], model_ok[TIER__MODELS];
	uint64_t model_http_errors[TIER__MODELS], model_transport_errors[TIER__MODELS];
	uint64_t model_invalid[TIER__MODELS], repairs[TIER__MODELS], retries[TIER__MODELS];
	uint64_t http_429[TIER__MODELS];
	uint64_t calls_reused;   /* answers taken from calls persisted before a redelivery */
	uint64_t escalated, human_only, flagship_decided;
	uint64_t budget_denied[TIER__MODELS];
	uint64_t events_sent;
	uint64_t db_rejected;
	uint64_t rules_reloads, rules_reload_errors;
	uint64_t redactions[5]; /* email, phone, card, iban, custom: values replaced */
	uint64_t injection_flagged, drafts_flagged;
	uint64_t breaker_opens[TIER__MODELS], breaker_denied[TIER__MODELS];
	int breaker_state[TIER__MODELS]; /* 0 closed, 1 open, 2 half-open */
	uint64_t misconfigs[TIER__MODELS]; /* times a tier was found misconfigured (#11.4) */
	uint64_t in_flight;
	uint64_t flagship_parked; /* issue #15.2: escalations outside max_in_flight (queued or in a
				   * flagship call); in_flight includes them */
	uint64_t state_count[JOB__STATES];
	/* per finished ticket: received to done; time waiting for models
	 * (calls and their backoff); and the difference, the time the daemon adds */
	struct hist e2e_ms, model_ms, added_ms;
	/* per state: time a ticket spent in it, one value per visit (MODEL
	 * includes waiting for a connection; CLAIM/STORE include the database queue) */
	struct hist state_ms[JOB__STATES];
};

struct pipeline;

/* Returns a new pipeline that starts consuming; NULL with err on a startup error. */
struct pipeline *pipeline_new(struct event_base *base, const struct config *cfg, char *err,
			      size_t errlen);
/* Stop intake and finish the tickets in flight; the loop exits when drained or after the drain timeout. */
void pipeline_drain(struct pipeline *pl);
/* Free everything (after the loop has exited). Commits offsets of finished tickets. */
void pipeline_free(struct pipeline *pl);
/*
 * Another producer's work for the final flush (the review outbox relay): when the
 * drain is over, quiesce(arg) is called once on the loop, and the loop ends once
 * idle(arg) says so as well (or the flush's 5 s bound passed). One at most.
 */
typedef void pipeline_flush_fn(void *arg);
typedef int pipeline_idle_fn(const void *arg);
void pipeline_flush_also(struct pipeline *pl, pipeline_flush_fn *quiesce, pipeline_idle_fn *idle,
			 void *arg);
void pipeline_get_stats(const struct pipeline *pl, struct pipeline_stats *out);
/* Intake counters: skipped (tombstones, nothing to triage), flagged lenient fields, cleanup bytes. */
struct intake_stats;
const struct intake_stats *pipeline_intake_stats(const struct pipeline *pl);
/* The shadow tier's counters (all zero when [shadow] is off). */
struct shadow_stats;
void pipeline_shadow_stats(const struct pipeline *pl, struct shadow_stats *out);
/* The pipeline's database engine, shared with the admin server's dashboard reads. */
struct db *pipeline_db(struct pipeline *pl);

struct pipeline_health {
	int db_up;              /* the database connection is ready */
	size_t partitions;      /* partitions assigned to this consumer */
	int draining;           /* shutting down */
	int paused;             /* intake paused (backpressure, database, shutdown) */
	int64_t consumer_lag;   /* messages behind the high watermarks; -1 unknown */
	size_t mini_in_flight, mini_waiting;
	size_t flagship_in_flight, flagship_waiting; /* waiting: escalations queued for a slot */
	uint64_t mini_connects, flagship_connects; /* connections opened to each endpoint */
	int mini_http, flagship_http; /* HTTP version of the last answer: 0 none, 1, 2 */
	int64_t flagship_max_queue; /* issue #15.2: flagship.max_queue */
	size_t db_pending;      /* items queued or in flight to the database */
	/* the write connection's rounds answered (one transaction each, rolled-back ones
	 * included) and their items, and the rounds group commit held back for the ones in
	 * flight (postgres.batch_delay_ms) */
	uint64_t db_rounds, db_round_items, db_rounds_held;
	size_t dlq_pending;     /* dead letters not yet acknowledged */
	/* kout_health_add: messages failing to produce, the oldest undelivered's age
	 * and cause */
	size_t produce_failing;
	double produce_oldest_s;
	char produce_stuck[224];
	const char *budget_no_price; /* a tier whose model has no price row (enforce); NULL: none */
	int64_t budget_lost_calls;   /* today's calls paid but answer lost (all daemons); 0 unknown */
	char misconfigured[2][160]; /* per tier: the cause while held as misconfigured; "" = not */
};
/* Ready = partitions assigned, database connected, not draining. */
void pipeline_get_health(const struct pipeline *pl, struct pipeline_health *out);
/* Reload the escalation rules file (SIGHUP). On a parse error the old rules stay; returns -1. */
int pipeline_reload_rules(struct pipeline *pl);

#endif
