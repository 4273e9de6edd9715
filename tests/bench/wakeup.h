/*
 * wakeup: one step of a thread that only wakes on a fixed period (#16: the
 * machine's own timer lateness, bench_wakeup and test_looplag's floor probe).
 */
#ifndef TRIAGED_WAKEUP_H
#define TRIAGED_WAKEUP_H

#include <time.h>

/* Advance *due by period_ns, sleep until it (CLOCK_MONOTONIC), and return how late the
 * thread woke, in microseconds (>= 0). Start *due from clock_gettime(CLOCK_MONOTONIC). */
static inline long long wakeup_next(struct timespec *due, long period_ns)
{
	struct timespec now;
	long long late;
	due->tv_nsec += period_ns;
	while (due->tv_nsec >= 1000000000) {
		due->tv_nsec -= 1000000000;
		due->tv_sec++;
	}
	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, due, NULL);
	clock_gettime(CLOCK_MONOTONIC, &now);
	late = (long long)(now.tv_sec - due->tv_sec) * 1000000 + (now.tv_nsec - due->tv_nsec) / 1000;
	return late > 0 ? late : 0;
}

#endif
