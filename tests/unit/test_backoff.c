/*
 * Unit tests for backoff: the delay curve, Retry-After parsing and failure
 * classification, as tables; the date parser is also checked against libc's
 * gmtime_r/strftime over a sweep of instants. Must never read the clock.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backoff.h"
#include "xmem.h"
#include "buf.h"
#include "text.h"

/* ---- backoff_delay_ms ---- */

struct delay_case {
	uint32_t base_ms, max_ms, attempt, retry_after_ms, rand32, want;
};

static const struct delay_case delay_cases[] = {
	/* growth: d = base * 2^(attempt-1); rand32 = 0 gives d/2 */
	{100, 10000, 1, 0, 0, 50},
	{100, 10000, 2, 0, 0, 100},
	{100, 10000, 3, 0, 0, 200},
	{100, 10000, 4, 0, 0, 400},
	{100, 10000, 7, 0, 0, 3200},
	/* attempt 0 is treated as the first retry */
	{100, 10000, 0, 0, 0, 50},
	/* jitter: rand32 = 2^31 is the midpoint, 0xFFFFFFFF just under d */
	{100, 10000, 2, 0, 0x80000000u, 150},
	{100, 10000, 1, 0, 0xFFFFFFFFu, 99},
	{100, 10000, 4, 0, 0xFFFFFFFFu, 799},
	/* cap: 100 * 2^7 = 12800 > 10000 */
	{100, 10000, 8, 0, 0, 5000},
	{100, 10000, 8, 0, 0xFFFFFFFFu, 9999},
	{100, 10000, 20, 0, 0, 5000},
	/* cap below base */
	{1000, 500, 1, 0, 0, 250},
	/* huge attempt numbers: no shift overflow, still the cap */
	{100, 10000, 32, 0, 0, 5000},
	{100, 10000, 33, 0, 0, 5000},
	{100, 10000, 64, 0, 0, 5000},
	{100, 10000, 65, 0, 0xFFFFFFFFu, 9999},
	{100, 10000, 1000000, 0, 0, 5000},
	{100, 10000, UINT32_MAX, 0, 0xFFFFFFFFu, 9999},
	{1, UINT32_MAX, 32, 0, 0, 1u << 30},
	{1, UINT32_MAX, 33, 0, 0, UINT32_MAX / 2},
	{UINT32_MAX, UINT32_MAX, UINT32_MAX, 0, 0xFFFFFFFFu, 4294967293u},
	/* zero base stays zero however many attempts */
	{0, 10000, 1, 0, 0xFFFFFFFFu, 0},
	{0, 10000, 40, 0, 0xFFFFFFFFu, 0},
	/* Retry-After is a floor, even above max_ms */
	{100, 10000, 1, 3000, 0, 3000},
	{100, 10000, 1, 60000, 0xFFFFFFFFu, 60000},
	{100, 10000, 30, 3600000, 0, 3600000},
	{100, 10000, 1, 10, 0, 50},
	{100, 10000, 1, 99, 0xFFFFFFFFu, 99},
	{100, 10000, 1, UINT32_MAX, 0, UINT32_MAX},
};

START_TEST(test_delay_table)
{
	const struct delay_case *c = &delay_cases[_i];
	struct backoff_policy p = {.base_ms = c->base_ms, .max_ms = c->max_ms, .max_attempts = 5};
	uint32_t got = backoff_delay_ms(&p, c->attempt, c->retry_after_ms, c->rand32);

	ck_assert_msg(got == c->want,
		      "case %d: base=%u max=%u attempt=%u ra=%u rand=%#x: got %u, want %u", _i,
		      c->base_ms, c->max_ms, c->attempt, c->retry_after_ms, c->rand32, got,
		      c->want);
}
END_TEST

/* For any rand32 the delay lies in [d/2, d) and grows monotonically with rand32. */
START_TEST(test_delay_jitter_bounds)
{
	struct backoff_policy p = {.base_ms = 250, .max_ms = 30000, .max_attempts = 8};
	uint64_t rng = 7;

	for (uint32_t attempt = 1; attempt <= 40; attempt++) {
		uint64_t d = attempt <= 8 ? 250u << (attempt - 1) : 30000;
		uint32_t prev = 0;

		if (d > 30000)
			d = 30000;
		for (int k = 0; k < 2000; k++) {
			uint32_t r = (uint32_t)(rng_next(&rng) >> 32);
			uint32_t got = backoff_delay_ms(&p, attempt, 0, r);

			ck_assert_uint_ge(got, d / 2);
			ck_assert_uint_lt(got, d);
		}
		for (uint64_t r = 0; r <= UINT32_MAX; r += 0x1000000) {
			uint32_t got = backoff_delay_ms(&p, attempt, 0, (uint32_t)r);

			ck_assert_uint_ge(got, prev);
			prev = got;
		}
	}
}
END_TEST

/* ---- backoff_parse_retry_after ---- */

#define RFC_EXAMPLE 784111777 /* Sun, 06 Nov 1994 08:49:37 GMT */

struct ra_case {
	const char *value;
	int64_t now;
	int rc;
	uint32_t want_ms;
};

static const struct ra_case ra_cases[] = {
	/* delta-seconds */
	{"0", 0, 0, 0},
	{"120", 0, 0, 120000},
	{" 5 ", 0, 0, 5000},
	{"\t7\t", 0, 0, 7000},
	{"007", 0, 0, 7000},
	{"3599", 0, 0, 3599000},
	{"3600", 0, 0, 3600000},
	{"3601", 0, 0, 3600000},
	{"99999999999999999999999999", 0, 0, 3600000},
	{"-1", 0, -1, 0},
	{"+5", 0, -1, 0},
	{"abc", 0, -1, 0},
	{"1.5", 0, -1, 0},
	{"12abc", 0, -1, 0},
	{"5 s", 0, -1, 0},
	{"0x10", 0, -1, 0},
	{"1e3", 0, -1, 0},
	{"", 0, -1, 0},
	{"   ", 0, -1, 0},
	{"\n5", 0, -1, 0},
	/* IMF-fixdate */
	{"Sun, 06 Nov 1994 08:49:37 GMT", RFC_EXAMPLE - 10, 0, 10000},
	{"  Sun, 06 Nov 1994 08:49:37 GMT\t", RFC_EXAMPLE - 10, 0, 10000},
	{"Sun, 06 Nov 1994 08:49:37 GMT", RFC_EXAMPLE, 0, 0},
	{"Sun, 06 Nov 1994 08:49:37 GMT", RFC_EXAMPLE + 100, 0, 0},
	{"Sun, 06 Nov 1994 08:49:37 GMT", RFC_EXAMPLE - 3599, 0, 3599000},
	{"Sun, 06 Nov 1994 08:49:37 GMT", RFC_EXAMPLE - 3600, 0, 3600000},
	{"Sun, 06 Nov 1994 08:49:37 GMT", RFC_EXAMPLE - 3601, 0, 3600000},
	{"Sun, 06 Nov 1994 08:49:37 GMT", 0, 0, 3600000},
	{"Wed, 21 Oct 2015 07:28:00 GMT", 1445412480 - 90, 0, 90000},
	{"Fri, 31 Dec 9999 23:59:59 GMT", RFC_EXAMPLE, 0, 3600000},
	{"Fri, 31 Dec 9999 23:59:59 GMT", 253402300799 - 1, 0, 1000},
	{"Thu, 29 Feb 2024 00:00:00 GMT", 1709164800 - 1, 0, 1000},
	{"Wed, 01 Mar 2000 00:00:00 GMT", 951868800 - 2, 0, 2000},
	{"Thu, 01 Jan 1970 00:00:00 GMT", 0, 0, 0},
	{"Thu, 01 Jan 1970 00:00:00 GMT", -5, 0, 5000},
	/* a leap second lands on the next second */
	{"Sat, 31 Dec 2016 23:59:60 GMT", 1483228800 - 1, 0, 1000},
	/* the weekday is spelled right but not checked against the date */
	{"Mon, 06 Nov 1994 08:49:37 GMT", RFC_EXAMPLE - 10, 0, 10000},
	/* malformed dates, and the obsolete forms (RFC 850, asctime) we do not accept */
	{"Sun, 06 Nov 1994 08:49:37 UTC", RFC_EXAMPLE - 10, -1, 0},
	{"Sun, 06 Nov 1994 08:49:37 gmt", RFC_EXAMPLE - 10, -1, 0},
	{"sun, 06 nov 1994 08:49:37 GMT", RFC_EXAMPLE - 10, -1, 0},
	{"Sun, 6 Nov 1994 08:49:37 GMT", RFC_EXAMPLE - 10, -1, 0},
	{"Sun, 06 Nov 94 08:49:37 GMT", RFC_EXAMPLE - 10, -1, 0},
	{"Sun 06 Nov 1994 08:49:37 GMT", RFC_EXAMPLE - 10, -1, 0},
	{"Sun, 06 Nov 1994 08:49:37 GMT x", RFC_EXAMPLE - 10, -1, 0},
	{"Sun, 06 Nov 1994 08:49:37", RFC_EXAMPLE - 10, -1, 0},
	{"Sun, 06 Nov 1994 8:49:37 GMT", RFC_EXAMPLE - 10, -1, 0},
	{"Sun, 06 Nov 1994 08-49-37 GMT", RFC_EXAMPLE - 10, -1, 0},
	{"Sun, 06 Nov 1994 24:00:00 GMT", RFC_EXAMPLE - 10, -1, 0},
	{"Sun, 06 Nov 1994 23:60:00 GMT", RFC_EXAMPLE - 10, -1, 0},
	{"Sun, 06 Nov 1994 23:59:61 GMT", RFC_EXAMPLE - 10, -1, 0},
	{"Sun, 00 Nov 1994 08:49:37 GMT", RFC_EXAMPLE - 10, -1, 0},
	{"Sun, 31 Nov 1994 08:49:37 GMT", RFC_EXAMPLE - 10, -1, 0},
	{"Sun, 29 Feb 2023 08:49:37 GMT", RFC_EXAMPLE - 10, -1, 0},
	{"Sun, 29 Feb 1900 08:49:37 GMT", RFC_EXAMPLE - 10, -1, 0},
	{"Sun, 06 Now 1994 08:49:37 GMT", RFC_EXAMPLE - 10, -1, 0},
	{"Sun, 06 Nov 19x4 08:49:37 GMT", RFC_EXAMPLE - 10, -1, 0},
	{"Sunday, 06-Nov-94 08:49:37 GMT", RFC_EXAMPLE - 10, -1, 0},
	{"Sun Nov  6 08:49:37 1994", RFC_EXAMPLE - 10, -1, 0},
};

START_TEST(test_retry_after_table)
{
	const struct ra_case *c = &ra_cases[_i];
	uint32_t ms = 0xDEADBEEF;
	int rc = backoff_parse_retry_after(c->value, (time_t)c->now, &ms);

	ck_assert_msg(rc == c->rc, "\"%s\": rc %d, want %d", c->value, rc, c->rc);
	if (rc == 0)
		ck_assert_msg(ms == c->want_ms, "\"%s\": %u ms, want %u", c->value, ms, c->want_ms);
}
END_TEST

START_TEST(test_retry_after_null_and_extreme_now)
{
	uint32_t ms = 0;

	ck_assert_int_eq(backoff_parse_retry_after(NULL, 0, &ms), -1);
	if (sizeof(time_t) == sizeof(int64_t)) {
		/* "now" far outside the date range must not overflow the difference. */
		ck_assert_int_eq(backoff_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT",
							   (time_t)INT64_MIN, &ms),
				 0);
		ck_assert_uint_eq(ms, 3600000);
		ck_assert_int_eq(backoff_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT",
							   (time_t)INT64_MAX, &ms),
				 0);
		ck_assert_uint_eq(ms, 0);
	}
}
END_TEST

/*
 * The parser against libc as the oracle: format instants from 1900 to 9999
 * with gmtime_r and strftime (C locale: no setlocale here), parse them back.
 * Runs with TZ set far from UTC to show the result ignores the time zone.
 */
START_TEST(test_retry_after_vs_libc)
{
	uint64_t rng = 12345;
	const int64_t lo = -2208988800LL; /* 1900-01-01 */
	const int64_t hi = 253402300799LL; /* 9999-12-31 23:59:59 */

	setenv("TZ", "Pacific/Kiritimati", 1);
	tzset();
	for (int k = 0; k < 20000; k++) {
		int64_t when = lo + (int64_t)(rng_next(&rng) % (uint64_t)(hi - lo + 1));
		int64_t ahead = (int64_t)(rng_next(&rng) % 4000);
		time_t tt = (time_t)when;
		struct tm tm;
		char s[64];
		uint32_t ms = 0;
		uint32_t want = ahead > 3600 ? 3600000 : (uint32_t)ahead * 1000;

		ck_assert_ptr_nonnull(gmtime_r(&tt, &tm));
		ck_assert_uint_eq(strftime(s, sizeof(s), "%a, %d %b %Y %H:%M:%S GMT", &tm), 29);
		ck_assert_msg(backoff_parse_retry_after(s, (time_t)(when - ahead), &ms) == 0,
			      "\"%s\" rejected", s);
		ck_assert_msg(ms == want, "\"%s\" %lld s ahead: %u ms, want %u", s,
			      (long long)ahead, ms, want);
	}
	unsetenv("TZ");
	tzset();
}
END_TEST

/* ---- backoff_classify ---- */

struct class_case {
	int transport_error;
	long status;
	enum retry_class want;
};

static const struct class_case class_cases[] = {
	{1, 0, RETRY_YES},   {1, 200, RETRY_YES}, {1, 400, RETRY_YES}, {0, 200, RETRY_NO},
	{0, 0, RETRY_NO},    {0, 301, RETRY_NO},  {0, 400, RETRY_NO},  {0, 401, RETRY_NO},
	{0, 403, RETRY_NO},  {0, 404, RETRY_NO},  {0, 413, RETRY_NO},  {0, 422, RETRY_NO},
	{0, 499, RETRY_NO},  {0, 408, RETRY_YES}, {0, 409, RETRY_YES}, {0, 425, RETRY_YES},
	{0, 429, RETRY_YES}, {0, 500, RETRY_YES}, {0, 502, RETRY_YES}, {0, 503, RETRY_YES},
	{0, 504, RETRY_YES}, {0, 599, RETRY_YES}, {0, 600, RETRY_NO},  {0, -1, RETRY_NO},
};

START_TEST(test_classify_table)
{
	const struct class_case *c = &class_cases[_i];

	ck_assert_msg(backoff_classify(c->transport_error, c->status) == c->want,
		      "transport=%d status=%ld: want %s", c->transport_error, c->status,
		      c->want == RETRY_YES ? "retry" : "no retry");
}
END_TEST

/* retry-after-ms (Azure OpenAI's 429s): milliseconds, a fraction rounded up, capped */
static const struct {
	const char *in;
	int rc;
	uint32_t ms;
} ra_ms_cases[] = {
    {"1500", 0, 1500},	      {" 20 ", 0, 20},		 {"0", 0, 0},
    {"20.5", 0, 21},	      {"20.000", 0, 20},	 {"7.", 0, 7},
    {".5", 0, 1},	      {"3600000", 0, 3600000},	 {"3600001", 0, 3600000},
    {"99999999999999999999999", 0, 3600000},		 {"", -1, 0},
    {"  ", -1, 0},	      {"-5", -1, 0},		 {"+5", -1, 0},
    {"1e3", -1, 0},	      {"12ms", -1, 0},		 {".", -1, 0},
    {"1.2.3", -1, 0},	      {"1 2", -1, 0},
};

START_TEST(test_retry_after_ms_table)
{
	uint32_t ms = 12345;
	int rc = backoff_parse_retry_after_ms(ra_ms_cases[_i].in, &ms);
	ck_assert_msg(rc == ra_ms_cases[_i].rc, "'%s': rc %d", ra_ms_cases[_i].in, rc);
	if (rc == 0)
		ck_assert_msg(ms == ra_ms_cases[_i].ms, "'%s': %u ms", ra_ms_cases[_i].in, ms);
	else
		ck_assert_uint_eq(ms, 12345); /* untouched */
	ck_assert_int_eq(backoff_parse_retry_after_ms(NULL, &ms), -1);
}
END_TEST

static Suite *backoff_suite(void)
{
	Suite *s = suite_create("backoff");
	TCase *tc = tcase_create("delay");

	tcase_add_loop_test(tc, test_delay_table, 0, ARRAY_SIZE(delay_cases));
	tcase_add_test(tc, test_delay_jitter_bounds);
	suite_add_tcase(s, tc);

	tc = tcase_create("retry_after");
	tcase_add_loop_test(tc, test_retry_after_table, 0, ARRAY_SIZE(ra_cases));
	tcase_add_test(tc, test_retry_after_null_and_extreme_now);
	tcase_add_test(tc, test_retry_after_vs_libc);
	tcase_add_loop_test(tc, test_retry_after_ms_table, 0, ARRAY_SIZE(ra_ms_cases));
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("classify");
	tcase_add_loop_test(tc, test_classify_table, 0, ARRAY_SIZE(class_cases));
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(backoff_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
