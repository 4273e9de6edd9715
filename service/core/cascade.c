/*
 * cascade: see cascade.h. Owns every decision about where a ticket goes
 * next, and nothing else: no I/O, no counters, no text built (reasons are
 * static strings plus a borrowed detail).
 */
#include "cascade.h"

#include <stddef.h>
#include <string.h>

static const char *const state_names[JOB__ALL] = {
    "claim", "reserve", "model", "backoff", "flagship_wait", "store", "event", "dlq", "prepare",
    "new",   "done"};
static const char *const event_names[EV__COUNT] = {
    "received",	       "parsed",	 "parse_failed", "skipped", "claimed",	"claimed_done",	 "claimed_elsewhere", "db_rejected",
    "request_ready",   "prompt_failed",	 "reserved",	"budget_denied", "budget_failed", "budget_busy",
    "resting",	       "not_sent",	 "model_retry", "model_failed",	 "answer_too_large",
    "answer_ok",       "answer_invalid", "mode_fallback", "timer",	"rule_none",	 "rule_escalate",
    "rule_human_only", "flagship_slot",	 "stored",	"delivered"};
static const char *const act_names[ACT__COUNT] = {
    "prepare", "claim",	      "call",  "reserve", "send",	 "wait",   "wait_budget", "wait_reserve", "wait_claim", "decide",
    "queue_flagship", "store", "publish", "dead_letter", "reject", "finish",	  "error"};
static const char *const tier_names[MODEL__TIERS] = {"mini", "flagship"};
static const char *const status_names[STATUS__COUNT] = {"pending_review", "needs_human"};

#define NAME(tab, n, i) ((unsigned)(i) < (n) ? (tab)[i] : "unknown")

const char *job_state_name(enum job_state s)
{
	return NAME(state_names, JOB__ALL, s);
}
const char *job_event_name(enum job_event e)
{
	return NAME(event_names, EV__COUNT, e);
}
const char *cascade_act_name(enum cascade_act a)
{
	return NAME(act_names, ACT__COUNT, a);
}
const char *model_tier_name(enum model_tier t)
{
	return NAME(tier_names, MODEL__TIERS, t);
}
const char *call_purpose_name(enum call_purpose p)
{
	return p == PURPOSE_TRIAGE ? "triage" : "repair";
}
const char *job_status_name(enum job_status s)
{
	return NAME(status_names, STATUS__COUNT, s);
}

int cascade_act_waits(enum cascade_act a)
{
	switch (a) {
	case ACT_PREPARE:
	case ACT_CLAIM:
	case ACT_RESERVE:
	case ACT_WAIT:
	case ACT_WAIT_BUDGET:
	case ACT_WAIT_RESERVE:
	case ACT_WAIT_CLAIM:
	case ACT_QUEUE_FLAGSHIP:
	case ACT_STORE:
	case ACT_PUBLISH:
	case ACT_DEAD_LETTER:
	case ACT_REJECT:
		return 1;
	default:
		/* ACT_SEND moves the job to MODEL itself, once the breaker lets the attempt go */
		return 0;
	}
}

/* ---- the decisions: each fills *o and returns the next state ------------- */

typedef enum job_state decide_fn(const struct job_facts *f, struct cascade_action *o);

static enum job_state human(struct cascade_action *o, const char *what, const char *detail)
{
	o->act = ACT_STORE;
	o->status = STATUS_NEEDS_HUMAN;
	o->what = what;
	o->detail = detail ? detail : "";
	return JOB_STORE;
}

static enum job_state call(const struct job_facts *f, struct cascade_action *o, enum model_tier t,
			   enum call_purpose p)
{
	if (f->ncalls >= CASCADE_MAX_CALLS)
		return human(o, "too many model calls", "limit reached");
	o->act = ACT_CALL;
	o->tier = t;
	o->purpose = p;
	return JOB_MODEL;
}

static enum job_state prepare(const struct job_facts *f, struct cascade_action *o)
{
	o->act = ACT_PREPARE;
	return JOB_PREPARE;
}

static enum job_state claim(const struct job_facts *f, struct cascade_action *o)
{
	o->act = ACT_CLAIM;
	return JOB_CLAIM;
}

static enum job_state dead_letter(const struct job_facts *f, struct cascade_action *o)
{
	o->act = ACT_DEAD_LETTER;
	return JOB_DLQ;
}

static enum job_state reject(const struct job_facts *f, struct cascade_action *o)
{
	o->act = ACT_REJECT;
	return JOB_DLQ;
}

static enum job_state claimed(const struct job_facts *f, struct cascade_action *o)
{
	/* text that could not be made safe must not reach a model */
	if (f->redact_failed)
		return human(o, "redaction failed", f->detail);
	return call(f, o, MODEL_MINI, PURPOSE_TRIAGE);
}

/* Stored, or triaged before: the event if there is one to send, else done. */
static enum job_state publish(const struct job_facts *f, struct cascade_action *o)
{
	if (f->events_on && f->has_event) {
		o->act = ACT_PUBLISH;
		return JOB_EVENT;
	}
	o->act = ACT_FINISH;
	return JOB_DONE;
}

static enum job_state finish(const struct job_facts *f, struct cascade_action *o)
{
	o->act = ACT_FINISH;
	return JOB_DONE;
}

static enum job_state request_ready(const struct job_facts *f, struct cascade_action *o)
{
	if (f->budget_enforce) {
		o->act = ACT_RESERVE;
		return JOB_RESERVE;
	}
	o->act = ACT_SEND;
	return JOB_MODEL;
}

static enum job_state prompt_failed(const struct job_facts *f, struct cascade_action *o)
{
	return human(o, "prompt", f->detail);
}

static enum job_state send(const struct job_facts *f, struct cascade_action *o)
{
	o->act = ACT_SEND;
	return JOB_MODEL;
}

static enum job_state budget_denied(const struct job_facts *f, struct cascade_action *o)
{
	if (f->call_tier == MODEL_MINI && f->mini_waits_budget) {
		/* pause intake; this ticket waits and asks again */
		o->act = ACT_WAIT_BUDGET;
		o->wait_ms = CASCADE_BUDGET_RETRY_MS;
		return JOB_BACKOFF;
	}
	o->drop_call = 1; /* the call was never made */
	/* the shell's detail says why when it is not a spent budget (no price row: #21) */
	if (f->detail && f->detail[0])
		return human(o, "budget_exhausted", f->detail);
	return human(o, "budget_exhausted",
		     f->call_tier == MODEL_MINI ? "the mini daily budget is spent"
						: "the flagship daily budget is spent");
}

static enum job_state budget_failed(const struct job_facts *f, struct cascade_action *o)
{
	/* the budget could not be checked: do not spend blindly */
	o->drop_call = 1;
	return human(o, "budget check failed", f->detail);
}

/* The budget is held by calls in flight that will likely hand room back: ask again. */
static enum job_state budget_busy(const struct job_facts *f, struct cascade_action *o)
{
	o->act = ACT_WAIT_RESERVE;
	o->wait_ms = f->wait_ms;
	return JOB_BACKOFF;
}

static enum job_state wait(const struct job_facts *f, struct cascade_action *o)
{
	o->act = ACT_WAIT;
	o->wait_ms = f->wait_ms;
	return JOB_BACKOFF;
}

static enum job_state model_failed(const struct job_facts *f, struct cascade_action *o)
{
	return human(
	    o, f->call_tier == MODEL_MINI ? "mini model unavailable" : "flagship model unavailable",
	    f->detail);
}

static enum job_state too_large(const struct job_facts *f, struct cascade_action *o)
{
	return human(
	    o, f->call_tier == MODEL_MINI ? "mini answer too large" : "flagship answer too large",
	    f->detail);
}

static enum job_state answer_ok(const struct job_facts *f, struct cascade_action *o)
{
	if (f->call_tier == MODEL_MINI) {
		o->act = ACT_DECIDE;
		return JOB_MODEL;
	}
	o->act = ACT_STORE;
	o->status = STATUS_PENDING_REVIEW;
	return JOB_STORE;
}

static enum job_state answer_invalid(const struct job_facts *f, struct cascade_action *o)
{
	if (f->call_purpose == PURPOSE_TRIAGE)
		return call(f, o, f->call_tier, PURPOSE_REPAIR); /* one repair */
	if (f->call_tier == MODEL_FLAGSHIP)
		return human(o, "flagship answer invalid after repair", f->detail);
	/* the rules decide: an invalid first pass may go to the flagship */
	o->act = ACT_DECIDE;
	o->mini_invalid = 1;
	o->detail = f->detail;
	return JOB_MODEL;
}

/* The refused call stays recorded as it was; the same step is asked again. */
static enum job_state mode_fallback(const struct job_facts *f, struct cascade_action *o)
{
	return call(f, o, f->call_tier, f->call_purpose);
}

/* Another live daemon's job holds the ticket (a rebalance moved its partition):
 * wait and claim again, until it is done (a redelivery) or the holder is gone. */
static enum job_state claimed_elsewhere(const struct job_facts *f, struct cascade_action *o)
{
	o->act = ACT_WAIT_CLAIM;
	o->wait_ms = f->wait_ms;
	return JOB_BACKOFF;
}

static enum job_state timer(const struct job_facts *f, struct cascade_action *o)
{
	if (f->retry_claim)
		return claim(f, o);
	if (f->retry_reserve) {
		o->act = ACT_RESERVE;
		return JOB_RESERVE;
	}
	return send(f, o);
}

static enum job_state rule_none(const struct job_facts *f, struct cascade_action *o)
{
	if (!f->has_mini)
		return human(o, "invalid answer after repair", f->mini_error);
	o->act = ACT_STORE;
	o->status = STATUS_PENDING_REVIEW;
	return JOB_STORE;
}

static enum job_state rule_escalate(const struct job_facts *f, struct cascade_action *o)
{
	o->act = ACT_QUEUE_FLAGSHIP;
	return JOB_FLAGSHIP_WAIT;
}

static enum job_state rule_human_only(const struct job_facts *f, struct cascade_action *o)
{
	return human(o, "human_only", f->rule_reasons);
}

static enum job_state flagship_slot(const struct job_facts *f, struct cascade_action *o)
{
	return call(f, o, MODEL_FLAGSHIP, PURPOSE_TRIAGE);
}

/* ---- the table: every possible (state, event); anything else is an error -- */

static const struct cascade_rule {
	enum job_state from;
	enum job_event ev;
	decide_fn *decide;
} rules[] = {
    /* clang-format off */
	{JOB_NEW,           EV_RECEIVED,         prepare},
	{JOB_PREPARE,       EV_PARSED,           claim},
	{JOB_PREPARE,       EV_PARSE_FAILED,     dead_letter},
	{JOB_PREPARE,       EV_SKIPPED,          finish},
	{JOB_CLAIM,         EV_CLAIMED,          claimed},
	{JOB_CLAIM,         EV_CLAIMED_DONE,     publish},
	{JOB_CLAIM,         EV_CLAIMED_ELSEWHERE, claimed_elsewhere},
	{JOB_CLAIM,         EV_DB_REJECTED,      reject},
	/* MODEL: preparing a call, in flight, or its answer being judged */
	{JOB_MODEL,         EV_REQUEST_READY,    request_ready},
	{JOB_MODEL,         EV_PROMPT_FAILED,    prompt_failed},
	{JOB_MODEL,         EV_RESTING,          wait},
	{JOB_MODEL,         EV_NOT_SENT,         wait},
	{JOB_MODEL,         EV_MODEL_RETRY,      wait},
	{JOB_MODEL,         EV_MODEL_FAILED,     model_failed},
	{JOB_MODEL,         EV_ANSWER_TOO_LARGE, too_large},
	{JOB_MODEL,         EV_ANSWER_OK,        answer_ok},
	{JOB_MODEL,         EV_ANSWER_INVALID,   answer_invalid},
	{JOB_MODEL,         EV_MODE_FALLBACK,    mode_fallback},
	{JOB_MODEL,         EV_RULE_NONE,        rule_none},
	{JOB_MODEL,         EV_RULE_ESCALATE,    rule_escalate},
	{JOB_MODEL,         EV_RULE_HUMAN_ONLY,  rule_human_only},
	{JOB_RESERVE,       EV_RESERVED,         send},
	{JOB_RESERVE,       EV_BUDGET_DENIED,    budget_denied},
	{JOB_RESERVE,       EV_BUDGET_FAILED,    budget_failed},
	{JOB_RESERVE,       EV_BUDGET_BUSY,      budget_busy},
	{JOB_BACKOFF,       EV_TIMER,            timer},
	{JOB_FLAGSHIP_WAIT, EV_FLAGSHIP_SLOT,    flagship_slot},
	{JOB_STORE,         EV_STORED,           publish},
	{JOB_STORE,         EV_DB_REJECTED,      reject},
	{JOB_EVENT,         EV_DELIVERED,        finish},
	{JOB_DLQ,           EV_DELIVERED,        finish},
    /* clang-format on */
};

enum job_state cascade_step(const struct job_facts *f, enum job_event ev,
			    struct cascade_action *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		if (rules[i].from == f->state && rules[i].ev == ev)
			return rules[i].decide(f, out);
	out->act = ACT_ERROR;
	out->what = "event impossible in this state";
	return f->state;
}
