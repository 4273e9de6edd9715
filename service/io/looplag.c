/*
 * looplag: see looplag.h. One persistent-free timer re-armed from its own
 * due time, so one late firing does not shift the schedule of the next.
 */
#include "looplag.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hist.h"
#include "log.h"
#include "loopslice.h"
#include "xmem.h"

struct looplag {
	struct event *ev;
	int64_t interval_us;
	int64_t due_us;
	struct hist lag_ms;
	long tid; /* the loop's thread, for its schedstat */
	int schedstat_fd; /* its /proc schedstat, read at every tick; -1: none */
	unsigned long long prev_cpu_ns, prev_wait_ns; /* at the tick before */
	uint64_t late_busy, late_waited;
	double late_cpu_s, late_wait_s;
};

/* The calling thread's CPU time in ns (0 if unknown). */
static unsigned long long thread_cpu_ns(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
		return 0;
	return (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec;
}

/* The loop thread's CPU and run delay in ns from the open schedstat file: 0, or -1. */
static int read_schedstat(int fd, unsigned long long *cpu, unsigned long long *wait)
{
	char b[128];
	ssize_t n = pread(fd, b, sizeof(b) - 1, 0);
	if (n <= 0)
		return -1;
	b[n] = '\0';
	return sscanf(b, "%llu %llu", cpu, wait) == 2 ? 0 : -1;
}

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
	if (l->schedstat_fd >= 0) {
		unsigned long long cpu, wait;
		/* the CPU from the thread's clock: schedstat's lags while the thread runs
		 * (the kernel adds the running stretch at its next tick or switch) */
		if (read_schedstat(l->schedstat_fd, &cpu, &wait) == 0 && (cpu = thread_cpu_ns()) > 0) {
			if (late > LOOPLAG_LATE_MS * 1000) {
				double dcpu = (double)(cpu - l->prev_cpu_ns) / 1e9;
				double dwait = (double)(wait - l->prev_wait_ns) / 1e9;
				l->late_cpu_s += dcpu;
				l->late_wait_s += dwait;
				if (dwait * 1e6 >= (double)late / 2)
					l->late_waited++;
				else
					l->late_busy++;
			}
			l->prev_cpu_ns = cpu;
			l->prev_wait_ns = wait;
		}
	}
	l->due_us += l->interval_us;
	if (l->due_us <= now) /* a stall longer than the interval: resume from now */
		l->due_us = now + l->interval_us;
	arm(l, now);
}

struct looplag *looplag_new(struct event_base *base, int64_t interval_ms)
{
	struct looplag *l = xcalloc(1, sizeof(*l));
	l->interval_us = (interval_ms > 0 ? interval_ms : 1) * 1000;
	l->tid = (long)syscall(SYS_gettid);
	{
		char path[64];
		snprintf(path, sizeof(path), "/proc/self/task/%ld/schedstat", l->tid);
		l->schedstat_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (l->schedstat_fd >= 0 &&
		    (read_schedstat(l->schedstat_fd, &l->prev_cpu_ns, &l->prev_wait_ns) < 0 ||
		     (l->prev_cpu_ns = thread_cpu_ns()) == 0)) {
			close(l->schedstat_fd);
			l->schedstat_fd = -1;
		}
	}
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
	if (l->schedstat_fd >= 0)
		close(l->schedstat_fd);
	free(l);
}

void looplag_fill(const struct looplag *l, struct metrics_snapshot *out)
{
	if (l == NULL)
		return;
	out->has_loop_lag = 1;
	out->loop_lag_ms = l->lag_ms;
	looplag_schedstat(l->tid, &out->loop_cpu_s, &out->loop_run_delay_s);
	out->loop_late_busy = l->late_busy;
	out->loop_late_waited = l->late_waited;
	out->loop_late_cpu_s = l->late_cpu_s;
	out->loop_late_run_delay_s = l->late_wait_s;
}

int looplag_schedstat(long tid, double *cpu_s, double *run_delay_s)
{
	char path[64];
	unsigned long long on = 0, wait = 0;
	FILE *f;
	int ok;
	*cpu_s = *run_delay_s = -1;
	snprintf(path, sizeof(path), "/proc/self/task/%ld/schedstat", tid);
	if ((f = fopen(path, "r")) == NULL)
		return -1; /* no procfs, or a kernel without schedstats */
	ok = fscanf(f, "%llu %llu", &on, &wait) == 2;
	fclose(f);
	if (!ok)
		return -1;
	*cpu_s = (double)on / 1e9;
	*run_delay_s = (double)wait / 1e9;
	return 0;
}
