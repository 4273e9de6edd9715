/*
 * text: bounded number and boolean parsing, ASCII trimming, and a small
 * deterministic PRNG. Pure: no I/O, no clock.
 */
#ifndef TRIAGED_TEXT_H
#define TRIAGED_TEXT_H

#include <stdint.h>

#include "xmem.h"

/* Parse helpers: 0 ok, -1 on syntax error or out of [min,max]. */
int parse_int64(const char *s, int64_t min, int64_t max, int64_t *out) WUR;
int parse_double(const char *s, double min, double max, double *out) WUR;
int parse_bool(const char *s, int *out) WUR;

/* Trim ASCII whitespace in place; returns s. */
char *str_trim(char *s);
/* 1 if s is empty or only whitespace. */
int str_blank(const char *s);

/* xorshift64* PRNG: deterministic and testable; state must be non-zero. */
static inline uint64_t rng_next(uint64_t *state)
{
	uint64_t x = *state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

#endif
