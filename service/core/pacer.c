/*
 * pacer: see pacer.h. Owns the pace of one tier's requests; the caller owns
 * the clock, the timer and the queue.
 */
#include "pacer.h"

void pacer_init(struct pacer *p, int enabled, double max_ms)
{
	p->enabled = enabled;
	p->known = 0;
	p->pace_ms = 0;
	p->last_start = -1;
	p->max_ms = max_ms > 0 ? max_ms : 60000;
	p->est_tokens = 0;
}

int pacer_may_start(struct pacer *p, double now, uint32_t in_flight, double *wait_ms)
{
	*wait_ms = 0;
	if (!p->enabled)
		return 1;
	if (!p->known && in_flight > 0)
		return 0; /* the first answer tells the window */
	/* the current pace from the last start: a pace that shrinks (the window
	 * reset) applies at once, not after a start spaced at the old one */
	if (p->pace_ms > 0 && p->last_start >= 0 && now < p->last_start + p->pace_ms) {
		*wait_ms = p->last_start + p->pace_ms - now;
		return 0;
	}
	p->last_start = now;
	return 1;
}

static int has_window(const struct ratelimit *rl)
{
	return (rl->has_remaining_requests && rl->has_reset_requests) ||
	       (rl->has_remaining_tokens && rl->has_reset_tokens);
}

void pacer_answer(struct pacer *p, const struct ratelimit *rl, long status, uint32_t in_flight,
		  double est_tokens)
{
	if (!p->enabled)
		return;
	if (est_tokens > 0)
		p->est_tokens = p->est_tokens > 0 ? 0.8 * p->est_tokens + 0.2 * est_tokens
						  : est_tokens;
	if (has_window(rl)) {
		double ms = dialect_pace_ms(rl, in_flight, (int64_t)p->est_tokens);
		p->pace_ms = ms > p->max_ms ? p->max_ms : ms;
		p->known = 1;
	} else if (status >= 200 && status < 500 && status != 429) {
		/* the provider answered and sends no window: nothing to pace */
		p->pace_ms = 0;
		p->known = 1;
	}
	/* else: a timeout, a connection error, a 5xx or a bare 429 says nothing */
}
