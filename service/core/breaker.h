/*
 * breaker: a per-endpoint circuit breaker. After `failures` consecutive
 * failed calls (transport errors, timeouts, 5xx) it opens: no call goes to
 * the endpoint for `cooldown_ms`; then one probe call is let through
 * (half-open): success closes it, failure opens it for another cool-down.
 * 429s are neither: Retry-After handles those; a probe answered so (or with
 * another answer that says nothing of the endpoint's health) opens it again
 * without counting a failure (breaker_neutral), and a probe whose answer
 * never comes (cancelled, lost) is replaced once its deadline passes, so the
 * breaker cannot stay half-open for good. Pure: now is passed in.
 */
#ifndef TRIAGED_BREAKER_H
#define TRIAGED_BREAKER_H

#include <stdint.h>

#include "xmem.h"
#include "buf.h"
#include "text.h"

enum breaker_state { BRK_CLOSED, BRK_OPEN, BRK_HALF_OPEN };

struct breaker {
	enum breaker_state state;
	uint32_t failures; /* consecutive failures that open it */
	double cooldown_ms;
	uint32_t consecutive;
	double next_probe_at;
	int probe_in_flight;
	double probe_started_at;  /* when the probe in flight was let through */
	double probe_deadline_ms; /* after this long without its answer it counts as lost */
	uint64_t lost_probes;	  /* probes replaced for want of an answer */
	uint64_t opens;  /* times it opened (closed->open and half-open->open) */
	uint64_t denied; /* calls it held back */
};

void breaker_init(struct breaker *b, uint32_t failures, double cooldown_ms);
/*
 * May a call go now? 1: yes (in half-open this call is the probe). 0: no;
 * *wait_ms says when to ask again.
 */
int breaker_allow(struct breaker *b, double now_ms, double *wait_ms) WUR;
/* The outcome of a call that breaker_allow let through. Return the new state. */
enum breaker_state breaker_success(struct breaker *b, double now_ms);
enum breaker_state breaker_failure(struct breaker *b, double now_ms);
/* Open it now, whatever the count (a tier found misconfigured); a half-open probe's
 * failure opens it again. Returns the new state (BRK_OPEN). */
enum breaker_state breaker_trip(struct breaker *b, double now_ms);
/*
 * A call that breaker_allow let through was answered with something that is
 * neither a success nor a failure of the endpoint (a 429, a request refused
 * for its own parameters). Closed or open: nothing changes. Half-open: the
 * probe is over without a verdict; open again, the next probe after retry_ms
 * (the provider's Retry-After) or, without one, after the cool-down. Not
 * counted in opens. Returns the new state.
 */
enum breaker_state breaker_neutral(struct breaker *b, double now_ms, double retry_ms);
/* How long a probe may go unanswered before another is let through (default: the cool-down). */
void breaker_set_probe_deadline(struct breaker *b, double deadline_ms);
const char *breaker_state_name(enum breaker_state s);

#endif
