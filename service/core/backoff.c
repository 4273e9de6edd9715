/*
 * backoff: see backoff.h. Owns the retry arithmetic for model calls: the
 * delay curve, the Retry-After header grammar and which failures deserve a
 * retry. Pure: no clock reads, no randomness of its own, no locale (dates
 * are parsed by hand, so LC_TIME and the TZ variable cannot change a result).
 */
#include "backoff.h"

#include <stddef.h>
#include <string.h>

#define RETRY_AFTER_CAP_S 3600 /* the header's "capped at 1 hour" */

uint32_t backoff_delay_ms(const struct backoff_policy *p, uint32_t attempt, uint32_t retry_after_ms,
			  uint32_t rand32)
{
	uint32_t shift = attempt > 0 ? attempt - 1 : 0;
	uint64_t d, half, delay;

	/* base_ms < 2^32 and shift < 32 keep the product under 2^63. */
	if (shift >= 32)
		d = p->base_ms ? p->max_ms : 0;
	else
		d = (uint64_t)p->base_ms << shift;
	if (d > p->max_ms)
		d = p->max_ms;
	half = d / 2;
	delay = half + ((half * rand32) >> 32);
	if (delay < retry_after_ms)
		delay = retry_after_ms;
	return (uint32_t)delay;
}

/* HTTP's OWS: spaces and tabs only, whatever the locale says. */
static int is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Exactly n digits at s into *out; -1 otherwise. */
static int digits(const char *s, size_t n, int *out)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* Index of the 3-byte name at s in names, or -1. Case-sensitive, as RFC 9110 says. */
static int name_index(const char *s, const char *const *names, int count)
{
	for (int i = 0; i < count; i++)
		if (strncmp(s, names[i], 3) == 0)
			return i;
	return -1;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
	static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return dim[m - 1];
}

/*
 * IMF-fixdate, the one form senders must use: "Sun, 06 Nov 1994 08:49:37 GMT",
 * exactly 29 bytes. The weekday name is checked for spelling, not against the
 * date. Seconds since the epoch into *out.
 */
static int parse_imf_fixdate(const char *s, size_t len, int64_t *out)
{
	static const char *const wdays[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	int day, mon, year, hh, mm, ss;

	if (len != 29)
		return -1;
	if (name_index(s, wdays, 7) < 0 || s[3] != ',' || s[4] != ' ')
		return -1;
	if (digits(s + 5, 2, &day) < 0 || s[7] != ' ')
		return -1;
	if ((mon = name_index(s + 8, months, 12)) < 0 || s[11] != ' ')
		return -1;
	mon++;
	if (digits(s + 12, 4, &year) < 0 || s[16] != ' ')
		return -1;
	if (digits(s + 17, 2, &hh) < 0 || s[19] != ':' || digits(s + 20, 2, &mm) < 0 ||
	    s[22] != ':' || digits(s + 23, 2, &ss) < 0)
		return -1;
	if (memcmp(s + 25, " GMT", 4) != 0)
		return -1;
	/* A leap second (:60) is legal in the grammar; it lands on the next second. */
	if (day < 1 || day > days_in_month(year, mon) || hh > 23 || mm > 59 || ss > 60)
		return -1;
	*out = days_from_civil(year, mon, day) * 86400 + hh * 3600 + mm * 60 + ss;
	return 0;
}

int backoff_parse_retry_after(const char *value, time_t now, uint32_t *out_ms)
{
	const char *s, *e;
	size_t len;
	int64_t secs;

	if (value == NULL)
		return -1;
	for (s = value; is_ows(*s); s++)
		;
	for (e = s + strlen(s); e > s && is_ows(e[-1]); e--)
		;
	len = (size_t)(e - s);
	if (len == 0)
		return -1;

	if (is_digit(*s)) {
		/* delta-seconds: 1*DIGIT. Saturate at the cap, so any length is fine. */
		secs = 0;
		for (const char *p = s; p < e; p++) {
			if (!is_digit(*p))
				return -1;
			if (secs <= RETRY_AFTER_CAP_S)
				secs = secs * 10 + (*p - '0');
		}
	} else {
		int64_t when, n = (int64_t)now;

		if (parse_imf_fixdate(s, len, &when) < 0)
			return -1;
		/* when lies in years 0000..9999: compare before subtracting, so no overflow. */
		if (when <= n)
			secs = 0;
		else if (n < when - RETRY_AFTER_CAP_S)
			secs = RETRY_AFTER_CAP_S;
		else
			secs = when - n;
	}
	if (secs > RETRY_AFTER_CAP_S)
		secs = RETRY_AFTER_CAP_S;
	*out_ms = (uint32_t)secs * 1000;
	return 0;
}

int backoff_parse_retry_after_ms(const char *value, uint32_t *out_ms)
{
	const char *s, *e, *p;
	int64_t ms = 0;
	int frac = 0, digits = 0;

	if (value == NULL)
		return -1;
	for (s = value; is_ows(*s); s++)
		;
	for (e = s + strlen(s); e > s && is_ows(e[-1]); e--)
		;
	for (p = s; p < e && is_digit(*p); p++, digits++)
		if (ms <= (int64_t)RETRY_AFTER_CAP_S * 1000) /* saturate: any length is fine */
			ms = ms * 10 + (*p - '0');
	if (p < e && *p == '.') {
		for (p++; p < e && is_digit(*p); p++, digits++)
			frac |= *p != '0';
	}
	if (p != e || digits == 0)
		return -1;
	ms += frac; /* a fraction of a millisecond waits the whole one */
	if (ms > (int64_t)RETRY_AFTER_CAP_S * 1000)
		ms = (int64_t)RETRY_AFTER_CAP_S * 1000;
	*out_ms = (uint32_t)ms;
	return 0;
}

enum retry_class backoff_classify(int transport_error, long http_status)
{
	if (transport_error)
		return RETRY_YES;
	switch (http_status) {
	case 408: /* Request Timeout */
	case 409: /* Conflict: often a transient lock or concurrent update */
	case 425: /* Too Early */
	case 429: /* Too Many Requests */
		return RETRY_YES;
	default:
		break;
	}
	return http_status >= 500 && http_status <= 599 ? RETRY_YES : RETRY_NO;
}
