/*
 * hist: a fixed-size latency histogram with log-linear buckets (16 sub-
 * buckets per power of two from 1 us to ~17 min), for quantiles and for
 * Prometheus histograms. Pure, no allocation after init; a value costs a
 * few instructions to record.
 */
#ifndef TRIAGED_HIST_H
#define TRIAGED_HIST_H

#include <stddef.h>
#include <stdint.h>

#define HIST_SUB 16
#define HIST_POW 30
#define HIST_BUCKETS (HIST_SUB * HIST_POW)

struct hist {
	uint64_t count;
	double sum_ms;
	double max_ms;
	uint64_t b[HIST_BUCKETS];
};

void hist_init(struct hist *h);
/* Record one value in milliseconds (negative values count as 0). */
void hist_add(struct hist *h, double ms);
/* The q-quantile (0..1) in ms, from bucket upper bounds (<= 6.25% high); 0 when empty. */
double hist_quantile(const struct hist *h, double q);
/* Number of values <= le_ms (bucket resolution, counts values whose bucket upper bound <= le_ms). */
uint64_t hist_count_le(const struct hist *h, double le_ms);

#endif
