/*
 * job: one ticket in flight. Owns its lifecycle (new, move between states,
 * retire, deferred free) and the per-state lists: each waiting state is a list, so the counts
 * are exact, the time spent per visit is measured, and shutdown can drain
 * them. Never decides a transition (that is cascade_step's) and never does
 * I/O beyond releasing what the job holds.
 */
#ifndef TRIAGED_JOB_H
#define TRIAGED_JOB_H

#include <stdint.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "answer.h"
#include "cascade.h"
#include "config.h"
#include "flagship_queue.h"
#include "hist.h"
#include "intake.h"
#include "kafka_in.h"
#include "model_call.h"
#include "offload.h"
#include "redact.h"
#include "rules.h"
#include "store.h"
#include "ticket.h"

/* What a ticket may need to say: errors, flags, why it went to a person. */
struct job_notes {
	char mini_error[256];
	char redact_err[256];
	char detector_flags[540]; /* "injection: " and two lists of up to 255 */
	char draft_flags[600];
	char reason[1200];
};

/* The message a job came from, for a dead letter (borrowed, during intake only). */
struct job_intake {
	const char *topic;
	int32_t partition;
	const void *key, *payload;
	size_t keylen, len;
	const char *code, *reason;
};

/* A dead letter's origin, kept until the topic has it (then counted in the database). */
struct job_dead_letter {
	char *topic;
	int32_t partition;
	char *code, *reason;
	int row_attempts; /* inserts of its dead_letters row tried */
};

/* The message as it came (#18.2): a db_rejected dead letter carries these bytes. */
struct job_raw {
	char *key; /* NULL: a null key; else keylen bytes (0: an empty key) */
	size_t keylen;
	char *payload;
	size_t len;
};

/* What safety_prepare() found in one ticket, for safety_account()'s counters. */
struct safety_counts {
	int injection; /* an injection attempt was flagged (the job's detector_flags say which) */
	struct redact_stats subject, body; /* values redacted */
};
/*
 * A message being prepared (JOB_PREPARE): its parse, injection check,
 * redaction and the rules' text conditions, made by an offload worker (or
 * inline), for the loop to count and step on. Freed when it is back.
 */
struct job_prep {
	struct offload_item item; /* its place in the offload queues */
	struct job *job;
	/* the message as it came, until the preparing copies it into the job's raw
	 * and destroys it: a 256 KiB copy page-faults fresh memory, so not on the loop */
	rd_kafka_message_t *msg;
	int64_t kafka_ts_ms;
	int tombstone;		   /* the message has no value */
	const struct rules *rules; /* the set in force when it was sent (alive until back) */
	unsigned rules_gen;	   /* its generation (pipeline_rules_release()) */
	size_t regex_text_max;
	struct intake_result r;	  /* outcome; r.t moves to the job */
	struct intake_stats st;	  /* what intake counted */
	struct safety_counts safety; /* what safety_prepare() found */
	struct job_intake in;		   /* a dead letter's origin (borrows from the job) */
};
/* The lists of jobs per waiting state, and where their counts go. */
struct job_set {
	struct job *lists[JOB__STATES];
	struct job *retired; /* done, freed by job_reap() after the loop pass */
	uint64_t *count;     /* [JOB__STATES] */
	struct hist *visits; /* [JOB__STATES]: time per visit */
	uint64_t *in_flight;
};

struct job {
	void *owner; /* the coordinator */
	struct job_set *set;
	enum job_state state; /* the list it is on; JOB_NEW before its first wait */
	struct job *prev, *next;
	struct fq_item fq; /* its place in the flagship queue while FLAGSHIP_WAIT */
	struct kin_part *part;
	int64_t offset;
	const struct job_intake *intake; /* NEW only */
	struct ticket *t;
	int64_t ticket_pk;
	int revision;
	struct model_calls calls; /* of this revision */
	struct event *ev_backoff;
	uint32_t wait_ms;  /* the delay the current event asks for */
	int retry_reserve; /* the backoff timer retries a budget reservation */
	int retry_claim;   /* the backoff timer retries the claim */
	int elsewhere;	   /* claims answered "in flight at another daemon" */
	/* answers */
	struct answer tr, ftr; /* mini, flagship */
	int has_tr, has_ftr;
	int mini_invalid;
	struct rules_decision *dec; /* NULL: no rule matched (most tickets) */
	struct rules_text rt;	    /* the rules' text conditions, matched while preparing */
	unsigned rt_gen;	    /* the rule set's generation they were matched with */
	struct job_prep *prep;	    /* PREPARE only */
	char *claim_row;	    /* the claim, built while preparing (NULL: over the cap) */
	size_t claim_len;	    /* its bytes */
	int flagship_slot;
	int parked; /* issue #15.2: an escalation, outside intake.max_in_flight (pipeline.c) */
	struct job_dead_letter *dl; /* DLQ only */
	struct job_raw *raw;	    /* the message's key and bytes, for a db_rejected dead letter */
	char *event;		    /* the ticket.triaged event to send, once stored */
	const char *detail;	    /* the current event's text, borrowed while it is stepped */
	struct triage_rec rec;	    /* what was sent to the store, until it answers */
	/* what the models see: invisible characters stripped, PII replaced */
	struct ticket pt; /* shallow copy of *t with subject and body replaced */
	char *p_subject, *p_body;
	struct redact_map pii; /* placeholder -> value; goes to PostgreSQL only */
	int redact_failed;
	struct job_notes *nt; /* NULL until something is noted: most tickets never need it */
	enum job_status status;
	double received_ms;
	double state_since; /* when the job entered its state */
};

/* A new job for the message at offset of part (referenced), in JOB_NEW; counts in flight. */
struct job *job_new(struct job_set *set, void *owner, struct kin_part *part, int64_t offset,
		    double now);
/* Move the job to the list of s (a waiting state): one visit of the old one ends. */
void job_set_state(struct job *j, enum job_state s, double now);
/*
 * The job is over (done, or abandoned at shutdown): off its list, no longer
 * in flight, its request cancelled and its timer freed, so nothing calls
 * back into it. The memory stays valid until job_reap(): a job that ends
 * inside a callback may still be looked at by its caller (pgbouncer's
 * deferred free).
 */
void job_retire(struct job *j, double now);
/*
 * Free the retired jobs; returns how many. Call after the loop pass (and at
 * shutdown). What an offload worker allocated while preparing (the raw
 * message, the ticket, the redacted copies, the rules' text results) goes
 * back to a worker to free (offload_discard, #16); off NULL: freed here.
 */
size_t job_reap(struct job_set *set, struct offload *off);

/* Keep a copy of a dead letter's origin (replacing any); drop it. */
void job_dead_letter_note(struct job *j, const char *topic, int32_t partition, const char *code,
			  const char *reason);
void job_dead_letter_free(struct job *j);
/* Keep a copy of the message's key (NULL: null key) and bytes (replacing any). */
void job_keep_raw(struct job *j, const void *key, size_t keylen, const void *payload, size_t len);

/* The job's notes for reading (all empty when none were written). */
const struct job_notes *job_notes_rd(const struct job *j);
/* The job's notes for writing, allocated on first use. */
struct job_notes *job_notes_wr(struct job *j);
/* The rules' decision (action none, nothing matched, when none was kept). */
const struct rules_decision *job_decision(const struct job *j);
/*
 * Evaluate the rules (r may be NULL, of generation gen) on the ticket and
 * its mini answer; keeps the decision. The text conditions matched while
 * preparing are used when they were matched with the same generation.
 */
enum rule_action job_eval_rules(struct job *j, const struct rules *r, unsigned gen,
				size_t regex_text_max);
/* What cascade_step may read about the job, in state s. */
void job_facts(struct job *j, enum job_state s, const struct config *cfg, struct job_facts *f);
/* The deciding answer: the flagship's, else the mini's, else NULL. */
struct answer *job_answer(struct job *j);

#endif
