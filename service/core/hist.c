/*
 * hist: see hist.h. Values are kept in microseconds: bucket index =
 * 16 * floor(log2(us)) + the next 4 bits of us.
 */
#include "hist.h"

#include <math.h>
#include <string.h>

void hist_init(struct hist *h)
{
	memset(h, 0, sizeof(*h));
}

static size_t bucket_of(uint64_t us)
{
	int p;
	uint64_t sub;
	if (us < HIST_SUB)
		return (size_t)us; /* exact below 16 us */
	p = 63 - __builtin_clzll(us);
	sub = (us >> (p - 4)) & (HIST_SUB - 1);
	if (p >= HIST_POW)
		return HIST_BUCKETS - 1;
	return (size_t)(p - 3) * HIST_SUB + (size_t)sub;
}

/* Upper bound of a bucket, in us. */
static double bucket_upper(size_t i)
{
	size_t p, sub;
	if (i < HIST_SUB)
		return (double)i;
	p = i / HIST_SUB + 3;
	sub = i % HIST_SUB;
	return (double)((uint64_t)(HIST_SUB + sub + 1) << (p - 4)) - 1.0;
}

void hist_add(struct hist *h, double ms)
{
	double us = ms * 1000.0;
	if (!(us > 0))
		us = 0;
	if (us > 4e15)
		us = 4e15;
	h->b[bucket_of((uint64_t)ceil(us))]++;
	h->count++;
	h->sum_ms += ms > 0 ? ms : 0;
	if (ms > h->max_ms)
		h->max_ms = ms;
}

double hist_quantile(const struct hist *h, double q)
{
	uint64_t want, seen = 0;
	if (h->count == 0)
		return 0;
	if (q <= 0)
		q = 0;
	if (q >= 1)
		return h->max_ms;
	want = (uint64_t)ceil(q * (double)h->count);
	if (want == 0)
		want = 1;
	for (size_t i = 0; i < HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= want) {
			double up = bucket_upper(i) / 1000.0;
			return up < h->max_ms ? up : h->max_ms;
		}
	}
	return h->max_ms;
}

uint64_t hist_count_le(const struct hist *h, double le_ms)
{
	uint64_t n = 0;
	double le_us = le_ms * 1000.0;
	for (size_t i = 0; i < HIST_BUCKETS; i++) {
		if (bucket_upper(i) > le_us)
			break;
		n += h->b[i];
	}
	return n;
}
