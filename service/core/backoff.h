/*
 * backoff: retry policy for model calls. Exponential backoff with full
 * jitter, a floor from Retry-After, a cap; classification of failures into
 * retryable or not. Pure: randomness and "now" are passed in.
 */
#ifndef TRIAGED_BACKOFF_H
#define TRIAGED_BACKOFF_H

#include <stdint.h>
#include <time.h>

#include "xmem.h"
#include "buf.h"
#include "text.h"

struct backoff_policy {
	uint32_t base_ms;
	uint32_t max_ms;
	uint32_t max_attempts; /* attempts including the first */
};

/*
 * Delay before attempt number `attempt` (1 = first retry):
 * min(max_ms, base_ms * 2^(attempt-1)) scaled by rand in [0.5, 1.0) (half
 * jitter), but never less than retry_after_ms (which may exceed max_ms: the
 * server asked). rand32 is a uniform random 32-bit value.
 */
uint32_t backoff_delay_ms(const struct backoff_policy *p, uint32_t attempt, uint32_t retry_after_ms,
			  uint32_t rand32);

/*
 * Parse a Retry-After value: delta-seconds ("120") or an HTTP-date
 * ("Wed, 21 Oct 2015 07:28:00 GMT") relative to now. Result in ms, capped at
 * 1 hour; a date in the past gives 0. Returns 0, or -1 if unparseable.
 */
int backoff_parse_retry_after(const char *value, time_t now, uint32_t *out_ms) WUR;

/*
 * Parse a retry-after-ms value (Azure OpenAI's 429s; OpenAI's and Anthropic's
 * SDKs read it before Retry-After): milliseconds, digits with an optional
 * fraction ("1500", "20.5", rounded up to whole ms). Capped at 1 hour, as
 * Retry-After. Returns 0, or -1 if unparseable (a sign, an exponent, empty).
 */
int backoff_parse_retry_after_ms(const char *value, uint32_t *out_ms) WUR;

enum retry_class { RETRY_NO, RETRY_YES };

/*
 * Classify an attempt's outcome. transport_error != 0 (curl: connect error,
 * timeout, reset) is retryable; HTTP 408, 409, 425, 429 and 5xx are
 * retryable; other 4xx are not.
 */
enum retry_class backoff_classify(int transport_error, long http_status);

#endif
