/*
 * model_call: calling the models for one ticket. Owns the two endpoints
 * (client, prompt, backoff policy, circuit breaker), the call records of a
 * ticket, attempts, retries with backoff, the breaker's verdicts, reuse of
 * calls persisted before a redelivery, and judging answers. Turns every
 * outcome into a cascade event; never decides where the ticket goes next.
 * Needs neither Kafka nor PostgreSQL: persisting a call record and budget
 * reservations are the caller's (store.h), so an eval mode can use it alone.
 */
#ifndef TRIAGED_MODEL_CALL_H
#define TRIAGED_MODEL_CALL_H

#include <stdint.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "answer.h"
#include "backoff.h"
#include "breaker.h"
#include "cascade.h"
#include "config.h"
#include "dialect.h"
#include "llm.h"
#include "prompt.h"

#define MODEL_CALL_ANSWER_CAP 16384	  /* answer text kept (and stored) per call */
#define MODEL_CALL_REQUEST_CAP (4u << 20) /* a rendered request */

enum call_outcome {
	CALL_NONE,
	CALL_OK,
	CALL_INVALID_ANSWER,
	CALL_HTTP_ERROR,
	CALL_TRANSPORT_ERROR
};

/* One model call of a ticket's revision (an HTTP exchange and its retries). */
struct call_rec {
	enum model_tier tier;
	enum call_purpose purpose;
	int seq;
	int reused; /* the answer came from a call persisted before a redelivery */
	int attempts;    /* HTTP requests sent, less those a config hold gave back */
	int retries_429; /* of which answered 429 */
	int unspent;     /* attempts not counted against max_attempts: rate limits (429) */
	double first_429_ms; /* when this call first met a rate limit; 0 never */
	long http_status;
	enum call_outcome outcome;
	char error[256];
	char request_id[LLM_REQUEST_ID_MAX]; /* the provider's id of the last exchange; "" none */
	struct llm_usage usage;
	enum model_dialect dialect;  /* the endpoint's request dialect */
	enum response_format mode;   /* the structured-output mode the request asked for */
	struct provider_error *perr; /* the provider's error object; NULL: none (most calls) */
	/* a 400/401/403/404 below config_errors under hold waits for the tier's verdict
	 * (dialect_config_verdict) instead of being asked again: what the tier showed then */
	int verdict_pending;
	struct config_watch verdict_seen;
	double verdict_until_ms;
	double latency_ms;
	double started_ms, finished_ms;
	char *answer;
	int64_t budget_id; /* 0: no budget */
	char reserved_usd[32];
	int64_t reservation_id; /* the reservation row (the call counted as started); 0: none */
};

struct model_endpoint {
	const struct model_config *mc; /* &mc_eff */
	/* the configuration with the structured-output mode in use, which falls
	 * back json_schema -> json_object -> prompt once each (providers, #11) */
	struct model_config mc_eff;
	enum model_dialect dialect;
	struct llm_client *client;
	struct prompt *prompt;
	struct prompt_frame
	    *frame; /* the request without the ticket, rendered once; NULL: in full */
	struct backoff_policy backoff;
	struct breaker breaker;
	/* provider edges (#11.4): consecutive 400/401/403/404; at mc->config_errors with
	 * on_config_error = hold the breaker opens and the tier is misconfigured until a
	 * probe succeeds. cause: "mini: 400 unknown_parameter reasoning_effort" */
	uint32_t cfg_errors;
	int misconfigured;
	char cause[160];
	uint64_t misconfigs; /* times the tier was found misconfigured */
	uint64_t answered;   /* 2xx answers (a refused call's verdict, #11) */
};

/* Per tier: HTTP attempts and their outcomes. */
struct model_call_stats {
	uint64_t requests[MODEL__TIERS], ok[MODEL__TIERS];
	uint64_t http_errors[MODEL__TIERS], transport_errors[MODEL__TIERS];
	uint64_t invalid[MODEL__TIERS], repairs[MODEL__TIERS], retries[MODEL__TIERS];
	uint64_t http_429[MODEL__TIERS];
	uint64_t calls_reused;
};

/* The breaker of tier t changed state (or a half-open probe came back). */
typedef void model_breaker_fn(void *arg, enum model_tier t, enum breaker_state after);

struct model_caller {
	struct model_endpoint ep[MODEL__TIERS];
	struct prompt *p_repair;
	const struct taxonomy *tax;
	uint64_t rng;
	struct model_call_stats st;
	model_breaker_fn *on_breaker;
	void *breaker_arg;
};

/* The calls of one ticket. */
struct model_calls {
	struct call_rec *v; /* one slot, CASCADE_MAX_CALLS once a second call is made */
	int n, alloc;
	int next_seq;
	json_object *prior; /* calls persisted before a redelivery (from the claim) */
	unsigned prior_used;
	char *request; /* rendered body of the current call, kept for retries */
	struct llm_req *req;
};

/* Returns a new caller for cfg's mini and flagship endpoints; NULL with err. tax is borrowed. */
struct model_caller *model_caller_new(struct event_base *base, const struct config *cfg,
				      const struct taxonomy *tax, char *err, size_t errlen);
void model_caller_free(struct model_caller *mcl);

void model_calls_init(struct model_calls *c);
/* Cancels a request in flight (its callback will not run). */
void model_calls_cleanup(struct model_calls *c);
/* Take the calls persisted before a redelivery (a JSON array; stolen, may be NULL). */
void model_calls_set_prior(struct model_calls *c, json_object *prior);
/* The current (last prepared) call; NULL before the first. */
struct call_rec *model_calls_cur(struct model_calls *c);
/* Forget the current call: it was never made (budget). */
void model_calls_drop(struct model_calls *c);
/* Time spent on calls made by this process (not reused); 0 and *fresh = 0 if none. */
double model_calls_wait_ms(const struct model_calls *c, int *fresh);

/*
 * Prepare the next call: reuse a persisted answer of the same tier, purpose,
 * model and prompt (EV_ANSWER_OK / EV_ANSWER_INVALID, judged into *ans), or
 * render its request (EV_REQUEST_READY; EV_PROMPT_FAILED with err). v gives
 * the ticket and, for the flagship, the first pass; the repair fields are
 * filled here.
 */
enum job_event model_call_prepare(struct model_caller *mcl, struct model_calls *c,
				  enum model_tier t, enum call_purpose p, struct prompt_vars v,
				  double now, struct answer *ans, char *err, size_t errlen);
/* May an attempt of the current call go now? 1: yes; 0: the breaker holds it back, or
 * a refused call waits for its verdict (*wait_ms: ask again then; no attempt spent);
 * -1: no: the call is over, failed as its last attempt was refused (a 400 that was the
 * ticket's own: c->error says why), to be persisted and failed as EV_MODEL_FAILED. */
int model_call_may_send(struct model_caller *mcl, struct model_calls *c, double now,
			uint32_t *wait_ms) WUR;
/* Send an attempt of the current call (after model_call_may_send); cb follows, never from here. */
void model_call_submit(struct model_caller *mcl, struct model_calls *c, llm_done_fn *cb, void *arg);
/*
 * An attempt's result: EV_NOT_SENT or EV_MODEL_RETRY (*wait_ms), or final:
 * EV_MODEL_FAILED, EV_ANSWER_TOO_LARGE, EV_ANSWER_INVALID (err says why),
 * EV_ANSWER_OK (judged into *ans).
 */
enum job_event model_call_result(struct model_caller *mcl, struct model_calls *c,
				 const struct llm_result *res, double now, struct answer *ans,
				 uint32_t *wait_ms, char *err, size_t errlen);
/* 1 while tier t is held as misconfigured (#11.4); *cause (if given) names why. */
int model_caller_misconfigured(const struct model_caller *mcl, enum model_tier t,
			       const char **cause);
/* 1 if ev ends the current call, which then should be persisted (unless reused). */
int model_call_final(enum job_event ev);

const char *call_outcome_name(enum call_outcome o); /* NULL for CALL_NONE */
/* The prompt of a call's tier and purpose. */
const struct prompt *model_call_prompt(const struct model_caller *mcl, enum model_tier t,
				       enum call_purpose p);

#endif
