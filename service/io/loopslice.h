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
#include <sys/time.h>
#include <time.h>

#include <event2/event.h>

/* Monotonic time in microseconds. */
static inline int64_t loopslice_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/*
 * A new event base with a precise clock: libevent otherwise caches each
 * pass's time from CLOCK_MONOTONIC_COARSE (4 ms ticks here), which is what
 * loopslice_spent() measures a pass from, and rounds epoll's timeouts to
 * whole ms (a timerfd instead). NULL on failure.
 */
static inline struct event_base *loopslice_base_new(void)
{
	struct event_config *cfg = event_config_new();
	struct event_base *base;
	if (cfg == NULL)
		return NULL;
	event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	return base;
}

/*
 * Has this loop pass run for slice_us (0: never)? One budget per pass for
 * every source of work (the consumer, the offload hand-back, the model
 * clients, the database): a source checking its own time only let a pass
 * run a slice of each, four of them at once. The pass begins when libevent
 * caches the time, right after it polls (a precise time only on a base from
 * loopslice_base_new()); that cache is wall time, so the comparison is too. Each source still does one item per pass, so none
 * starves behind the others.
 */
static inline int loopslice_spent(struct event_base *base, int64_t slice_us)
{
	struct timeval start, now;
	if (slice_us <= 0 || event_base_gettimeofday_cached(base, &start) != 0)
		return 0;
	gettimeofday(&now, NULL);
	return (int64_t)(now.tv_sec - start.tv_sec) * 1000000 + (now.tv_usec - start.tv_usec) >=
	       slice_us;
}

/* Run timer event ev in the next loop pass (once, however often asked). */
static inline void loopslice_next_pass(struct event *ev)
{
	static const struct timeval zero = {0, 0};
	if (!evtimer_pending(ev, NULL))
		evtimer_add(ev, &zero);
}

#endif
