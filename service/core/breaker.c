/*
 * breaker: see breaker.h. Owns only the state machine; the caller decides
 * what a failure is and what waiting means.
 */
#include "breaker.h"

#define PROBE_WAIT_MS 1000.0 /* ask again this soon while a probe is out */

void breaker_init(struct breaker *b, uint32_t failures, double cooldown_ms)
{
	b->state = BRK_CLOSED;
	b->failures = failures ? failures : 1;
	b->cooldown_ms = cooldown_ms > 0 ? cooldown_ms : 1;
	b->consecutive = 0;
	b->next_probe_at = 0;
	b->probe_in_flight = 0;
	b->probe_started_at = 0;
	b->probe_deadline_ms = b->cooldown_ms;
	b->lost_probes = 0;
	b->opens = 0;
	b->denied = 0;
}

void breaker_set_probe_deadline(struct breaker *b, double deadline_ms)
{
	b->probe_deadline_ms = deadline_ms > 0 ? deadline_ms : b->cooldown_ms;
}

int breaker_allow(struct breaker *b, double now_ms, double *wait_ms)
{
	switch (b->state) {
	case BRK_CLOSED:
		return 1;
	case BRK_OPEN:
		if (now_ms >= b->next_probe_at) {
			b->state = BRK_HALF_OPEN;
			b->probe_in_flight = 1;
			b->probe_started_at = now_ms;
			return 1;
		}
		*wait_ms = b->next_probe_at - now_ms;
		break;
	case BRK_HALF_OPEN:
	default:
		if (now_ms >= b->probe_started_at + b->probe_deadline_ms) {
			/* the probe's answer never came (cancelled with its ticket, lost): another */
			b->lost_probes++;
			b->probe_in_flight = 1;
			b->probe_started_at = now_ms;
			return 1;
		}
		*wait_ms = PROBE_WAIT_MS < b->cooldown_ms ? PROBE_WAIT_MS : b->cooldown_ms;
		break;
	}
	b->denied++;
	return 0;
}

static enum breaker_state open_now(struct breaker *b, double now_ms)
{
	b->state = BRK_OPEN;
	b->probe_in_flight = 0;
	b->next_probe_at = now_ms + b->cooldown_ms;
	b->opens++;
	return b->state;
}

enum breaker_state breaker_success(struct breaker *b, double now_ms)
{
	(void)now_ms;
	b->consecutive = 0;
	b->probe_in_flight = 0;
	b->state = BRK_CLOSED;
	return b->state;
}

enum breaker_state breaker_failure(struct breaker *b, double now_ms)
{
	if (b->state == BRK_HALF_OPEN)
		return open_now(b, now_ms);
	if (b->state == BRK_OPEN)
		return b->state; /* a call sent before it opened: already counted */
	if (++b->consecutive >= b->failures)
		return open_now(b, now_ms);
	return b->state;
}

enum breaker_state breaker_neutral(struct breaker *b, double now_ms, double retry_ms)
{
	if (b->state != BRK_HALF_OPEN)
		return b->state;
	b->state = BRK_OPEN;
	b->probe_in_flight = 0;
	b->next_probe_at = now_ms + (retry_ms > 0 ? retry_ms : b->cooldown_ms);
	return b->state;
}

enum breaker_state breaker_trip(struct breaker *b, double now_ms)
{
	if (b->state == BRK_OPEN)
		return b->state;
	b->consecutive = b->failures;
	return open_now(b, now_ms);
}

const char *breaker_state_name(enum breaker_state s)
{
	switch (s) {
	case BRK_CLOSED:
		return "closed";
	case BRK_OPEN:
		return "open";
	case BRK_HALF_OPEN:
		return "half_open";
	}
	return "unknown";
}
