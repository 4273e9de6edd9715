/*
 * loopslice: work done a slice of a loop pass at a time (#16, loop lag).
 * The consumer, the model client and the database each stop handing out
 * work after intake.loop_slice_ms in one pass and go on from a zero timer,
 * which fires in the next pass after the timers and sockets that came due
 * (event_active would run in this same pass, libevent 2.1).
 */
#ifndef TRIAGED_LOOPSLICE_H
#define TRIAGED_LOOPSLICE_H

#include <stdint.h>
#include <time.h>

#include <event2/event.h>

/* Monotonic time in microseconds. */
static inline int64_t loopslice_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Run timer event ev in the next loop pass (once, however often asked). */
static inline void loopslice_next_pass(struct event *ev)
{
	static const struct timeval zero = {0, 0};
	if (!evtimer_pending(ev, NULL))
		evtimer_add(ev, &zero);
}

#endif
