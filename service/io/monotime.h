/*
 * monotime: milliseconds on the monotonic clock, for ages and bounds that a
 * wall-clock step must not move (an undelivered message's age, the shutdown's
 * final flush).
 */
#ifndef TRIAGED_MONOTIME_H
#define TRIAGED_MONOTIME_H

#include <time.h>

static inline double mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

#endif
