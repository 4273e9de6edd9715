/*
 * pacer: when a tier's next request may start, from the provider's
 * x-ratelimit-* headers (mini.pacing, issue #11.5). Requests are spread over
 * the window: one every pace_ms (what the window resets in, over what is left
 * of it less the requests already out; dialect_pace_ms). Until an answer says
 * whether the provider sends such headers, one request at a time. Pure: the
 * clock is passed in; llm.c owns the timer and the queue.
 *
 * Only what an answer says moves the pace:
 *   - an answer with rate-limit headers sets it;
 *   - the provider's own answer without them (2xx, 4xx but 429) says there
 *     are none: no spacing;
 *   - a timeout, a connection error, a 5xx (a proxy's, often) or a 429
 *     without headers says nothing of the window: the pace stays as it was.
 * (Before, any of those switched pacing off and let the whole queue go at
 * once, into the limit, just when the provider struggled.)
 */
#ifndef TRIAGED_PACER_H
#define TRIAGED_PACER_H

#include <stdint.h>

#include "dialect.h"

struct pacer {
	int enabled;
	int known;	   /* an answer has said whether there is a window */
	double pace_ms;	   /* 0: no spacing */
	double last_start; /* when the last request was let through (ms); < 0: none yet */
	double max_ms;	   /* pace_ms is capped here (a daily quota's reset would stall the tier) */
	double est_tokens; /* a request's tokens, running mean (0: none seen) */
};

void pacer_init(struct pacer *p, int enabled, double max_ms);
/*
 * May a request start at now, with in_flight out? 1: yes, and it counts as
 * started. 0: no; *wait_ms is when to look again (> 0), or 0 when only an
 * answer can tell (the first request is out and the window is unknown).
 */
int pacer_may_start(struct pacer *p, double now, uint32_t in_flight, double *wait_ms);
/*
 * An answer came for a request of est_tokens (its prompt and completion, 0:
 * unknown), with in_flight others still out. status: its HTTP status (0 for a
 * transport error).
 */
void pacer_answer(struct pacer *p, const struct ratelimit *rl, long status, uint32_t in_flight,
		  double est_tokens);

#endif
