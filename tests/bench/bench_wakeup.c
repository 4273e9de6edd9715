/*
 * bench_wakeup: the machine's own timer lateness (issue #16), to read the
 * daemon's loop lag against. A thread that does nothing but sleep to an
 * absolute deadline every 10 ms, as SCHED_FIFO (root) on one CPU, and
 * prints how late it woke: what the loop-lag figures of test_looplag
 * cannot go below on this machine, whatever the daemon does.
 *
 *   cmake --build build --target bench_wakeup
 *   build/bench_wakeup [SECONDS=30] [CPU=0] [FIFO_PRIORITY=20, 0: ordinary]
 *
 * Prints: bench_wakeup: ticks=N mean=Xus p99<=Yms over_1ms=N over_5ms=N (P%) max=Zus
 * (p99 as the bound of the first of 1, 2.5, 5, 10, 25, 50 ms holding 99%,
 * the buckets of triaged_loop_lag_seconds).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "wakeup.h"

int main(int argc, char **argv)
{
	static const long bound_us[] = {1000, 2500, 5000, 10000, 25000, 50000};
	long secs = argc > 1 ? atol(argv[1]) : 30;
	int cpu = argc > 2 ? atoi(argv[2]) : 0, prio = argc > 3 ? atoi(argv[3]) : 20;
	long n = 0, over1 = 0, over5 = 0, max = 0, in[6] = {0};
	double sum = 0;
	const char *p99 = "> 50";
	cpu_set_t set;
	struct timespec due;

	if (secs < 1)
		secs = 1;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0)
		perror("bench_wakeup: sched_setaffinity (running unpinned)");
	if (prio > 0) {
		struct sched_param sp = {.sched_priority = prio};
		if (sched_setscheduler(0, SCHED_FIFO, &sp) != 0)
			perror("bench_wakeup: SCHED_FIFO (running as an ordinary thread)");
	}
	clock_gettime(CLOCK_MONOTONIC, &due);
	for (long i = 0; i < secs * 100; i++) {
		long late = (long)wakeup_next(&due, 10000000);
		n++;
		sum += (double)late;
		over1 += late > 1000;
		over5 += late > 5000;
		if (late > max)
			max = late;
		for (int b = 0; b < 6; b++)
			if (late <= bound_us[b])
				in[b]++;
	}
	for (int b = 0; b < 6; b++)
		if ((double)in[b] >= 0.99 * (double)n) {
			static char s[16];
			snprintf(s, sizeof(s), "%g", (double)bound_us[b] / 1000.0);
			p99 = s;
			break;
		}
	printf("bench_wakeup: cpu=%d %s ticks=%ld mean=%.0fus p99<=%sms over_1ms=%ld over_5ms=%ld "
	       "(%.2f%%) max=%ldus\n",
	       cpu, prio > 0 ? "fifo" : "ordinary", n, sum / (double)n, p99, over1, over5,
	       100.0 * (double)over5 / (double)n, max);
	return 0;
}
