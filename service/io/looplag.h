/*
 * looplag: how late the event loop runs a periodic timer. A timer is due
 * every interval; each time it fires, the delay past its due time goes into
 * a histogram (exported as triaged_loop_lag_seconds). A callback that holds
 * the loop (a slow regex, a blocking call) shows up here; so does a machine
 * that gives the loop's thread no CPU when it wakes, which its run delay
 * (triaged_loop_run_delay_seconds_total) tells apart.
 */
#ifndef TRIAGED_LOOPLAG_H
#define TRIAGED_LOOPLAG_H

#include <stdint.h>

#include <event2/event.h>

#include "metrics.h"

struct looplag;

/* A tick later than this is split by cause (triaged_loop_late_ticks_total). */
#define LOOPLAG_LATE_MS 5

/* Start measuring on base every interval_ms (>= 1). Returns a new object; free with looplag_free(). */
struct looplag *looplag_new(struct event_base *base, int64_t interval_ms);
void looplag_free(struct looplag *l);
/* Copy the histogram and the loop thread's CPU and run delay into out (sets has_loop_lag). Accepts NULL l. */
void looplag_fill(const struct looplag *l, struct metrics_snapshot *out);
/*
 * Thread tid's (of this process) time on a CPU and time runnable but waiting
 * for one, in seconds, from /proc (the kernel's schedstat). 0, or -1 with
 * both -1 when the kernel does not say.
 */
int looplag_schedstat(long tid, double *cpu_s, double *run_delay_s);

#endif
