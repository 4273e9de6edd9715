/* Unit tests for pacer: when a tier's next request may start, from x-ratelimit-* answers. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "pacer.h"

static struct ratelimit window(int64_t remaining, uint32_t reset_ms)
{
	struct ratelimit rl;
	memset(&rl, 0, sizeof(rl));
	rl.has_remaining_requests = rl.has_reset_requests = 1;
	rl.remaining_requests = remaining;
	rl.reset_requests_ms = reset_ms;
	return rl;
}

static const struct ratelimit none;

START_TEST(test_disabled)
{
	struct pacer p;
	double w = -1;
	pacer_init(&p, 0, 60000);
	for (int i = 0; i < 5; i++)
		ck_assert(pacer_may_start(&p, 0, (uint32_t)i, &w));
	pacer_answer(&p, &(struct ratelimit){0}, 200, 0, 100);
	ck_assert(pacer_may_start(&p, 0, 9, &w));
}
END_TEST

/* One request until an answer says whether there is a window. */
START_TEST(test_first_answer)
{
	struct pacer p;
	double w = -1;
	pacer_init(&p, 1, 60000);
	ck_assert(pacer_may_start(&p, 0, 0, &w));
	ck_assert(!pacer_may_start(&p, 1, 1, &w));
	ck_assert_double_eq(w, 0); /* no timer: the answer tells */
	/* the first answer is a timeout: it says nothing, still one at a time */
	pacer_answer(&p, &none, 0, 0, 0);
	ck_assert_int_eq(p.known, 0);
	ck_assert(pacer_may_start(&p, 2, 0, &w));
	ck_assert(!pacer_may_start(&p, 3, 1, &w));
	/* a 200 without headers: the provider has no window, nothing is spaced */
	pacer_answer(&p, &none, 200, 0, 0);
	ck_assert_int_eq(p.known, 1);
	for (int i = 0; i < 10; i++)
		ck_assert(pacer_may_start(&p, 4, (uint32_t)i, &w));
}
END_TEST

/* Requests spread over the window: its reset over what is left of it. */
START_TEST(test_spread)
{
	struct pacer p;
	double w = -1;
	struct ratelimit rl = window(10, 1000);
	pacer_init(&p, 1, 60000);
	ck_assert(pacer_may_start(&p, 0, 0, &w));
	pacer_answer(&p, &rl, 200, 0, 0);
	ck_assert_double_eq(p.pace_ms, 100);
	/* spaced from the last start (0) */
	ck_assert(!pacer_may_start(&p, 10, 0, &w));
	ck_assert_double_eq(w, 90);
	ck_assert(pacer_may_start(&p, 100, 0, &w));
	ck_assert(!pacer_may_start(&p, 150, 1, &w));
	ck_assert_double_eq(w, 50);
	ck_assert(pacer_may_start(&p, 200, 1, &w));
	/* the requests out count against what is left: 10 left, 5 out -> reset / 5 */
	pacer_answer(&p, &rl, 200, 5, 0);
	ck_assert_double_eq(p.pace_ms, 200);
	/* a reset a day away is capped */
	rl = window(1, 86400000);
	pacer_answer(&p, &rl, 200, 0, 0);
	ck_assert_double_eq(p.pace_ms, 60000);
}
END_TEST

/*
 * What says nothing of the window leaves the pace alone: a timeout, a
 * connection error, a 5xx or a bare 429. Before, each switched pacing off and
 * let the whole queue go at once.
 */
START_TEST(test_errors_keep_pace)
{
	static const long statuses[] = {0, 500, 502, 503, 429};
	struct pacer p;
	double w = -1;
	struct ratelimit rl = window(10, 10000);
	pacer_init(&p, 1, 60000);
	ck_assert(pacer_may_start(&p, 0, 0, &w));
	pacer_answer(&p, &rl, 200, 0, 0);
	ck_assert_double_eq(p.pace_ms, 1000);
	for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
		pacer_answer(&p, &none, statuses[i], 0, 0);
		ck_assert_double_eq(p.pace_ms, 1000);
	}
	ck_assert(pacer_may_start(&p, 1000, 0, &w));
	ck_assert(!pacer_may_start(&p, 1500, 1, &w));
	ck_assert_double_eq(w, 500);
	/* a 429 with its window: that window */
	rl = window(0, 3000);
	pacer_answer(&p, &rl, 429, 0, 0);
	ck_assert_double_eq(p.pace_ms, 3000);
	/* the provider's 4xx without headers: it has none */
	pacer_answer(&p, &none, 400, 0, 0);
	ck_assert_double_eq(p.pace_ms, 0);
}
END_TEST

/*
 * A pace that shrinks applies at once: after an exhausted window (one request
 * per reset), the answer that says the window is new again lets the queue go
 * without waiting out the old spacing (before, about twice the reset).
 */
START_TEST(test_shrink_at_once)
{
	struct pacer p;
	double w = -1;
	struct ratelimit rl = window(0, 2000);
	pacer_init(&p, 1, 60000);
	ck_assert(pacer_may_start(&p, 0, 0, &w));
	pacer_answer(&p, &rl, 200, 0, 0);
	ck_assert_double_eq(p.pace_ms, 2000);
	ck_assert(pacer_may_start(&p, 2000, 0, &w)); /* the one request of the new window */
	ck_assert(!pacer_may_start(&p, 2001, 1, &w));
	ck_assert_double_eq(w, 1999);
	rl = window(1000, 60000);
	pacer_answer(&p, &rl, 200, 0, 0); /* 60 ms a request now */
	ck_assert(!pacer_may_start(&p, 2030, 0, &w));
	ck_assert_double_eq(w, 30);
	ck_assert(pacer_may_start(&p, 2060, 0, &w));
}
END_TEST

/* Tokens: what the tokens left pay for at the running mean of a request's tokens. */
START_TEST(test_tokens)
{
	struct pacer p;
	struct ratelimit rl;
	double w;
	memset(&rl, 0, sizeof(rl));
	rl.has_remaining_tokens = rl.has_reset_tokens = 1;
	rl.remaining_tokens = 10000;
	rl.reset_tokens_ms = 1000;
	pacer_init(&p, 1, 60000);
	ck_assert(pacer_may_start(&p, 0, 0, &w));
	pacer_answer(&p, &rl, 200, 0, 1000); /* 10 requests' worth left */
	ck_assert_double_eq(p.est_tokens, 1000);
	ck_assert_double_eq(p.pace_ms, 100);
	pacer_answer(&p, &rl, 200, 0, 2000); /* mean 0.8 * 1000 + 0.2 * 2000 = 1200: 8 left */
	ck_assert_double_eq(p.est_tokens, 1200);
	ck_assert_double_eq(p.pace_ms, 125);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pacer");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_disabled);
	tcase_add_test(tc, test_first_answer);
	tcase_add_test(tc, test_spread);
	tcase_add_test(tc, test_errors_keep_pace);
	tcase_add_test(tc, test_shrink_at_once);
	tcase_add_test(tc, test_tokens);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
