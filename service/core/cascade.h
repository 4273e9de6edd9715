/*
 * cascade: the life of one ticket as ONE pure transition function.
 *
 * The shell (pipeline.c and the modules it names) turns every I/O result into
 * an event, gathers the few facts a decision needs into struct job_facts and
 * calls cascade_step(), which returns the next state and fills one action for
 * the shell to carry out. Nothing else decides where a ticket goes next.
 *
 *   NEW ---parsed---> CLAIM ---claimed---> (call mini) ---> MODEL <-> BACKOFF
 *    |               ^  |  \--done before--> EVENT --> DONE      |  (RESERVE)
 *    |               +--+--held elsewhere: BACKOFF, claim again   |
 *    +--parse failed--> DLQ --delivered--> DONE                  v
 *                                                  rules: none | human_only | escalate
 *                                                                              |
 *                          FLAGSHIP_WAIT <-------------------------------------+
 *                               |  slot
 *                               +--> (call flagship) --> MODEL --> STORE --> EVENT --> DONE
 *
 * Pure: no I/O, no clock, no allocation. An event that cannot happen in a
 * state yields ACT_ERROR (the state is kept), never undefined behaviour.
 */
#ifndef TRIAGED_CASCADE_H
#define TRIAGED_CASCADE_H

#include <stdint.h>

/* Where a job is. The first JOB__STATES are states a job waits in: each has a
 * list, a count and a latency histogram. NEW and DONE are the two ends. */
enum job_state {
	JOB_CLAIM,
	JOB_RESERVE,
	JOB_MODEL,
	JOB_BACKOFF,
	JOB_FLAGSHIP_WAIT,
	JOB_STORE,
	JOB_EVENT,
	JOB_DLQ,
	JOB_PREPARE, /* parsed, checked and redacted off the loop (offload.h) */
	JOB__STATES,
	JOB_NEW = JOB__STATES, /* taken from Kafka, nothing decided yet */
	JOB_DONE,	       /* durable or dead-lettered: offset released, job freed */
	JOB__ALL,
};

/* The model endpoints (not the customer tiers of ticket.h). */
enum model_tier { MODEL_MINI, MODEL_FLAGSHIP, MODEL__TIERS };

enum call_purpose { PURPOSE_TRIAGE, PURPOSE_REPAIR };

/* The status a ticket is stored with. */
enum job_status { STATUS_PENDING_REVIEW, STATUS_NEEDS_HUMAN, STATUS__COUNT };

/* What happened to the job. The text of an event (an error, a rule's reasons)
 * travels in job_facts.detail. */
enum job_event {
	EV_RECEIVED,	     /* a message was taken from Kafka */
	EV_PARSED,	     /* the message is a ticket, prepared for the models */
	EV_PARSE_FAILED,     /* it is not */
	EV_SKIPPED,	     /* nothing to triage (a tombstone, an agent's event) */
	EV_CLAIMED,	     /* claim: new, updated or pending: work to do */
	EV_CLAIMED_DONE,     /* claim: triaged before (a redelivery) */
	EV_CLAIMED_ELSEWHERE, /* claim: in flight at another live daemon (a rebalance): ask again */
	EV_DB_REJECTED,	     /* the database refused this ticket's data */
	EV_REQUEST_READY,    /* the call's request is rendered */
	EV_PROMPT_FAILED,    /* it could not be rendered */
	EV_RESERVED,	     /* budget granted */
	EV_BUDGET_DENIED,    /* budget spent */
	EV_BUDGET_FAILED,    /* the budget could not be checked */
	EV_BUDGET_BUSY,	     /* not now: calls in flight hold the budget, and will likely free it */
	EV_RESTING,	     /* the endpoint's breaker is open: wait, unspent */
	EV_NOT_SENT,	     /* handed back from the client's queue unsent */
	EV_MODEL_RETRY,	     /* a failed attempt that may be retried */
	EV_MODEL_FAILED,     /* attempts exhausted or not retryable */
	EV_ANSWER_TOO_LARGE, /* the answer passed the response cap */
	EV_ANSWER_OK,	     /* a valid answer (fresh or reused) */
	EV_ANSWER_INVALID,   /* an invalid answer or envelope */
	EV_MODE_FALLBACK,    /* the server refused the structured-output mode: ask again a mode down */
	EV_TIMER,	     /* the backoff timer fired */
	EV_RULE_NONE,	     /* the rules: no action */
	EV_RULE_ESCALATE,    /* the rules: to the flagship */
	EV_RULE_HUMAN_ONLY,  /* the rules: to a person */
	EV_FLAGSHIP_SLOT,    /* a flagship slot was given to this job */
	EV_STORED,	     /* the row is durable (now or before) */
	EV_DELIVERED,	     /* the produced message (event or dead letter) is acknowledged */
	EV__COUNT,
	EV_NONE = EV__COUNT, /* no follow-up: the job waits for I/O */
};

enum cascade_act {
	ACT_PREPARE,	    /* parse, flag injections, redact, match the rules' text (off the loop) */
	ACT_CLAIM,	    /* submit the claim */
	ACT_CALL,	    /* prepare a call (tier, purpose): reuse a prior answer or render */
	ACT_RESERVE,	    /* reserve budget for the current call */
	ACT_SEND,	    /* send an attempt (the breaker may say rest) */
	ACT_WAIT,	    /* arm the backoff timer for wait_ms */
	ACT_WAIT_BUDGET,    /* pause intake (budget) and ask again after wait_ms */
	ACT_WAIT_RESERVE,   /* ask for the budget again after wait_ms (or when a call settles) */
	ACT_WAIT_CLAIM,	    /* claim again after wait_ms (another daemon's job holds the ticket) */
	ACT_DECIDE,	    /* the mini step is over: evaluate the rules */
	ACT_QUEUE_FLAGSHIP, /* wait for a flagship slot */
	ACT_STORE,	    /* store with status (and reason what: detail) */
	ACT_PUBLISH,	    /* send the ticket.triaged event */
	ACT_DEAD_LETTER,    /* the unparsable message to the dead-letter topic */
	ACT_REJECT,	    /* the ticket the database refused to the dead-letter topic */
	ACT_FINISH,	    /* release the offset, free the job */
	ACT_ERROR,	    /* impossible event in this state: the shell logs it, the job stays */
	ACT__COUNT,
};

#define CASCADE_MAX_CALLS 8
#define CASCADE_BUDGET_RETRY_MS 30000

/* What a decision may read; the shell fills it for each step. */
struct job_facts {
	enum job_state state;
	enum model_tier call_tier; /* the current (last prepared) call */
	enum call_purpose call_purpose;
	int ncalls;			/* calls prepared so far */
	unsigned has_mini : 1;		/* a valid mini answer */
	unsigned redact_failed : 1;	/* the text could not be made safe */
	unsigned budget_enforce : 1;	/* calls reserve budget first */
	unsigned mini_waits_budget : 1; /* mini budget spent: pause and wait (else a person) */
	unsigned retry_reserve : 1;	/* the backoff timer retries a reservation */
	unsigned retry_claim : 1;	/* the backoff timer retries the claim */
	unsigned events_on : 1;		/* an events topic is configured */
	unsigned has_event : 1;		/* the job holds its event text */
	uint32_t wait_ms;		/* EV_MODEL_RETRY, EV_RESTING, EV_NOT_SENT, EV_CLAIMED_ELSEWHERE: delay */
	const char *detail;		/* the event's text; borrowed */
	const char *mini_error;		/* why the mini answer was invalid; borrowed */
	const char *rule_reasons;	/* the matched rules' reasons; borrowed */
};

/* What the shell must do. Strings are borrowed from the facts or static. */
struct cascade_action {
	enum cascade_act act;
	enum model_tier tier;	   /* ACT_CALL */
	enum call_purpose purpose; /* ACT_CALL */
	enum job_status status;	   /* ACT_STORE */
	const char *what;	   /* ACT_STORE needs_human: reason; ACT_ERROR: message */
	const char *detail;	   /* ACT_STORE needs_human: the reason's detail */
	uint32_t wait_ms;	   /* ACT_WAIT, ACT_WAIT_BUDGET, ACT_WAIT_RESERVE */
	unsigned drop_call : 1;	   /* ACT_STORE: the current call was never made */
	unsigned mini_invalid : 1; /* ACT_DECIDE: the mini answer stayed invalid (detail: why) */
};

/*
 * The one transition function: in state f->state, on ev, fill *out and return
 * the next state. Impossible pairs: ACT_ERROR and f->state returned. Pure.
 */
enum job_state cascade_step(const struct job_facts *f, enum job_event ev,
			    struct cascade_action *out);

/* 1 if the action leaves the job waiting for I/O in the returned state (the
 * shell moves it to that state's list first); 0 for the synchronous ones. */
int cascade_act_waits(enum cascade_act a);

const char *job_state_name(enum job_state s);
const char *job_event_name(enum job_event e);
const char *cascade_act_name(enum cascade_act a);
const char *model_tier_name(enum model_tier t);
const char *call_purpose_name(enum call_purpose p);
const char *job_status_name(enum job_status s);

#endif
