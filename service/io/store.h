/*
 * store: the database contract of the daemon, in one place. Typed requests
 * in (the JSON each SQL function takes is built here and nowhere else),
 * typed results out (each result row is read here, through one position
 * table per statement). The ticket.triaged event of a freshly stored row is
 * built here too. db.c stays the generic group-commit engine; no caller of
 * store ever sees a struct db_row. Never decides what a result means for
 * the ticket: it reports, the cascade decides.
 */
#ifndef TRIAGED_STORE_H
#define TRIAGED_STORE_H

#include <stdint.h>

#include <json-c/json.h>

#include "answer.h"
#include "cascade.h"
#include "db.h"
#include "hist.h"
#include "model_call.h"
#include "redact.h"
#include "rules.h"
#include "ticket.h"

struct store {
	struct db *db;	/* borrowed */
	size_t row_cap; /* a request's JSON; over it the item fails like a rejected one */
	/* names each reservation request (unique per owner, the daemon instance): a round
	 * sent again after a lost connection gets the reservation it made (migration 063) */
	int64_t reserve_seq;
};

void store_init(struct store *s, struct db *db, size_t row_cap);

/* ---- claim ---- */

struct claim_req {
	const struct ticket *t;
	const char *topic;
	int32_t partition;
	int64_t offset;
	const struct redact_map *pii; /* placeholder -> value; goes to PostgreSQL only */
};

/* ELSEWHERE: seen, not triaged, and held by another daemon that is alive: ask again */
enum claim_state { CLAIM_NEW, CLAIM_UPDATED, CLAIM_PENDING, CLAIM_DONE, CLAIM_ELSEWHERE };

struct claim_result {
	int64_t pk;
	int revision;
	enum claim_state state;
	json_object *prior; /* the revision's persisted calls (not for DONE); the callback may take
			       it (set NULL) */
	const char *event;  /* DONE: the stored row's event, borrowed, may be NULL */
};

/* r is NULL (with err) when the database refused the ticket or the row made no sense. */
typedef void store_claim_fn(void *arg, struct claim_result *r, const char *err);

/*
 * The claim as a binary triaged_claim_in row (migration 062), its bytes in
 * *len; NULL over the cap. Reads s only: an offload worker builds it
 * (offload.h).
 */
char *store_claim_row(const struct store *s, const struct claim_req *q, size_t *len);
/*
 * Claim the ticket's revision with the row from store_claim_row() (taken).
 * 0, or -1 with err (row NULL: the request was over the cap; cb never runs).
 */
int store_claim(struct store *s, char *row, size_t len, store_claim_fn *cb, void *arg, char *err,
		size_t errlen) WUR;

/* ---- the triage row (and its event) ---- */

struct triage_rec {
	const struct ticket *t;
	int64_t ticket_pk;
	int revision;
	enum job_status status;
	const char *status_reason;		  /* NULL: none */
	const struct answer *answer;		  /* the deciding answer; NULL: none valid */
	enum model_tier decided;		  /* whose answer (mini when none) */
	const char *model, *prompt_version;	  /* of the deciding tier */
	const struct rules_decision *dec;	  /* never NULL (action none, nothing matched) */
	const char *detector_flags, *draft_flags; /* NULL: none */
};

enum store_outcome {
	STORED_NOW,	  /* inserted now: the event was built from the record */
	STORED_DUPLICATE, /* stored before (a redelivery): the event is the database's */
	STORED_UNKNOWN,	  /* a row that says neither: counted by status, the database's event */
};

struct store_result {
	enum store_outcome outcome;
	char *event; /* new string, the callback may take it (set NULL); NULL: none */
};

typedef void store_triage_fn(void *arg, struct store_result *r, const char *err);

/* Store the triage. rec must stay valid until cb runs. 0, or -1 with err (over the cap). */
int store_triage(struct store *s, const struct triage_rec *rec, store_triage_fn *cb, void *arg,
		 char *err, size_t errlen) WUR;

/* ---- model calls, budgets, dead letters ---- */

/* Persist a completed call (nothing waits for it; a refusal is logged). */
void store_call(struct store *s, int64_t ticket_pk, int revision, const struct call_rec *c,
		const char *model, const char *prompt_version);

enum reserve_verdict {
	RESERVE_GRANTED,
	RESERVE_BUSY,	  /* calls in flight hold the budget: ask again */
	RESERVE_DENIED,	  /* the budget is spent */
	RESERVE_NO_PRICE, /* the model has no price row: a configuration error, fail closed */
	RESERVE_PRICED,	  /* a dry run: the model has a price (nothing granted) */
};

struct reserve_result {
	int granted;
	int64_t budget_id;	/* 0: none */
	const char *amount_usd; /* borrowed: the estimate held */
	int64_t reservation_id; /* 0: none (no budget) */
	enum reserve_verdict verdict;
};
typedef void store_reserve_fn(void *arg, const struct reserve_result *r, const char *err);

/* A call to reserve for (strings borrowed for the call). */
struct reserve_req {
	enum model_tier tier;
	const char *model, *prompt_version;
	int64_t prompt_tokens, max_tokens, completion_estimate;
	const char *owner; /* this daemon instance: the lease's holder */
	int lease_s;
	int dry_run; /* only check the price: RESERVE_PRICED or RESERVE_NO_PRICE, never granted */
};

/* Reserve budget for a call: its worst case against the limit, its estimate held (issue #21). */
void store_reserve(struct store *s, const struct reserve_req *q, store_reserve_fn *cb, void *arg);
/* q as one item of triaged_reserve's input. Returns a new object; caller puts it. */
json_object *store_reserve_obj(const struct reserve_req *q);
/*
 * Fill out with what store_reserve_call reserves for the current call of cs
 * (strings borrowed from mcl, cs and owner): `triaged eval` reserves the same
 * worst case as the daemon (issue #13).
 */
void store_reserve_req_for(const struct model_caller *mcl, const struct model_calls *cs,
			   const struct hist *completion, double pct, const char *owner,
			   int lease_s, struct reserve_req *out);
/*
 * Reserve budget for the current call of cs: the prompt tokens counted from
 * its rendered request, the dialect's worst case (reasoning headroom
 * included), and a completion estimate: the pct quantile of completion (this
 * daemon's answers on the tier), the worst case until 20 answers. owner and
 * lease_s make the reservation a lease.
 */
void store_reserve_call(struct store *s, const struct model_caller *mcl,
			const struct model_calls *cs, const struct hist *completion, double pct,
			const char *owner, int lease_s, store_reserve_fn *cb, void *arg);

/* Renew the leases of owner's open reservations and sweep those of dead owners; cb gets
 * the calls lost today (all daemons), unless the database refused. */
typedef void store_renew_fn(void *arg, int64_t lost_today);
/* held: the (ticket_pk, revision) of n claims this daemon still works on, whose
 * claimed_at the heartbeat refreshes (a live daemon's claim is not taken over
 * after ten minutes); NULL/0: none. */
struct store_held {
	int64_t ticket_pk;
	int revision;
};
void store_renew(struct store *s, const char *owner, int lease_s, const struct store_held *held,
		 size_t n, store_renew_fn *cb, void *arg);

/* Record a dead letter for supervisors (once the topic has it); cb(arg, row or NULL, err) once. */
void store_dead_letter(struct store *s, const char *topic, int32_t partition, int64_t offset,
		       const char *code, const char *reason, db_item_fn *cb, void *arg);

/* ---- shadow answers (issue #13 part 3) ---- */

struct shadow_rec {
	int64_t ticket_pk;
	int revision;
	const char *ticket_id, *model, *prompt_version;
	const char *outcome;	     /* call_outcome_name */
	const struct answer *answer; /* NULL: no valid answer */
	struct llm_usage usage;
	double latency_ms;
};

/*
 * Persist a shadow answer (no ticket waits for it). cb(arg, row, err) once
 * the database has it (row != NULL) or refused it (row NULL, err); NULL cb:
 * a refusal is logged. The shadow tier counts its stores under way with it,
 * so that a drain can wait for them.
 */
void store_shadow(struct store *s, const struct shadow_rec *r, db_item_fn *cb, void *arg);

#endif
