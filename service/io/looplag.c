/*
 * looplag: see looplag.h. One persistent-free timer re-armed from its own
 * due time, so one late firing does not shift the schedule of the next.
 */
#include "looplag.h"

#include <stdlib.h>

#include "hist.h"
#include "log.h"
#include "loopslice.h"
#include "xmem.h"

struct looplag {
	struct event *ev;
	int64_t interval_us;
	int64_t due_us;
	struct hist lag_ms;
};

static void arm(struct looplag *l, int64_t now)
{
	int64_t wait = l->due_us - now;
	struct timeval tv;
	if (wait < 0)
		wait = 0;
	tv.tv_sec = wait / 1000000;
	tv.tv_usec = wait % 1000000;
	evtimer_add(l->ev, &tv);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct looplag *l = arg;
	int64_t now = loopslice_now_us();
	int64_t late = now - l->due_us;

	hist_add(&l->lag_ms, late > 0 ? (double)late / 1000.0 : 0.0);
	l->due_us += l->interval_us;
	if (l->due_us <= now) /* a stall longer than the interval: resume from now */
		l->due_us = now + l->interval_us;
	arm(l, now);
}

struct looplag *looplag_new(struct event_base *base, int64_t interval_ms)
{
	struct looplag *l = xcalloc(1, sizeof(*l));
	l->interval_us = (interval_ms > 0 ? interval_ms : 1) * 1000;
	hist_init(&l->lag_ms);
	l->ev = evtimer_new(base, on_tick, l);
	if (l->ev == NULL)
		fatal("out of memory: evtimer_new", "%s", "");
	l->due_us = loopslice_now_us() + l->interval_us;
	arm(l, loopslice_now_us());
	return l;
}

void looplag_free(struct looplag *l)
{
	if (l == NULL)
		return;
	event_free(l->ev);
	free(l);
}

void looplag_fill(const struct looplag *l, struct metrics_snapshot *out)
{
	if (l == NULL)
		return;
	out->has_loop_lag = 1;
	out->loop_lag_ms = l->lag_ms;
}
